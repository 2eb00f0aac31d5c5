#!/usr/bin/env node
/** Entry point of the `meshsim` command; see program.ts. */
import { main } from './program.js';

/**
 * A reader that stops early (`meshsim run … | head`) closes the pipe: later writes fail
 * with EPIPE. That is not the command's failure (its files are written, its exit code
 * stands), so output to a closed stream is dropped instead of crashing with a stack trace.
 */
function writer(stream: NodeJS.WriteStream): (text: string) => void {
  let closed = false;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    closed = true;
  });
  return (text) => {
    if (!closed) stream.write(text);
  };
}

const code = await main(process.argv.slice(2), {
  stdout: writer(process.stdout),
  stderr: writer(process.stderr),
  isTTY: process.stderr.isTTY === true,
});
process.exitCode = code;
