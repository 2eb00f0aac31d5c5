#!/usr/bin/env node
/** Entry point of the `meshsim` command; see program.ts. */
import { main } from './program.js';

const code = await main(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  isTTY: process.stderr.isTTY === true,
});
process.exitCode = code;
