/**
 * What a command module gets from the program (src/cli/program.ts) when it registers: the
 * output streams, the exit-code setter, and the program's own usage error (printed as
 * `meshsim: <message>`, exit 2), passed in so command modules never import the program
 * that imports them.
 */
export interface CommandContext {
  readonly io: { readonly stdout: (text: string) => void; readonly stderr: (text: string) => void; readonly isTTY: boolean };
  readonly setExit: (code: number) => void;
  readonly usageError: (message: string) => Error;
}

/** Exit code of a run stopped by SIGINT or SIGTERM (128 + SIGINT, as shells report it). */
export const EXIT_INTERRUPTED = 130;

/**
 * Runs `fn` with an AbortSignal that fires on SIGINT or SIGTERM; the handlers are removed
 * afterwards, whatever happens.
 */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const abort = (): void => controller.abort(new Error('interrupted'));
  process.on('SIGINT', abort);
  process.on('SIGTERM', abort);
  try {
    return await fn(controller.signal);
  } finally {
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
  }
}
