/** Runs the `meshsim` command in-process (`main(argv, io)`) and captures what it prints. */
import { main } from '../../src/cli/program.js';

export interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function cli(...argv: string[]): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), isTTY: false });
  return { code, stdout, stderr };
}

/** A stack frame line as Node prints them. */
export const STACK_LINE = /^\s{4}at /m;
