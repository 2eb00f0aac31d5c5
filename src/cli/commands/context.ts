import { statSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { loadPlugins, pluginUrls } from '../../scenario/plugins.js';
import type { LoadedScenario } from '../../scenario/types.js';
import type { WriteHtmlOptions } from '../../report/html/write.js';

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

/**
 * A commander option parser for a whole number in [min, max]: digits only (no sign, no
 * exponent, no fraction), so `--seeds 1e3` or `--workers -1` is refused rather than read.
 */
export function wholeNumber(min: number, what: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${min}` : `an integer from ${min} to ${max.toLocaleString('en-US')}`;
      throw new InvalidArgumentError(`expected ${what} (${range}), got "${value}"`);
    }
    return n;
  };
}

/** Exit code of a run stopped by SIGINT or SIGTERM (128 + SIGINT, as shells report it). */
export const EXIT_INTERRUPTED = 130;

/**
 * Runs `fn` with an AbortSignal that fires on SIGINT or SIGTERM; the handlers are removed
 * afterwards, whatever happens. The first signal asks `fn` to stop (it stops its processes
 * and writes nothing half done) and, given `notify`, says so; a second one exits at once
 * (128 + the signal), for when stopping takes longer than the user will wait: the child
 * processes of live runs watch their parent and end with it, and reports are written
 * atomically, so nothing is left behind or half written either way.
 */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>, notify?: (text: string) => void): Promise<T> {
  const controller = new AbortController();
  const abort = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      process.exit(signal === 'SIGTERM' ? 143 : EXIT_INTERRUPTED);
      return;
    }
    const [what, again] = signal === 'SIGTERM' ? ['SIGTERM', 'SIGTERM'] : ['interrupted', 'Ctrl-C'];
    notify?.(`meshsim: ${what}: stopping (${again} again to stop at once)\n`);
    controller.abort(new Error('interrupted'));
  };
  process.on('SIGINT', abort);
  process.on('SIGTERM', abort);
  try {
    return await fn(controller.signal);
  } finally {
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
  }
}

/**
 * Runs the synchronous `fn` (a report's burst of file writes) with SIGINT and SIGTERM
 * held: a signal that arrives meanwhile takes effect once `fn` is done, re-raised, so it
 * ends the process as it would have (by default, killed by the signal: exit 130 or 143 in a
 * shell), but never halfway through a set of files that must change together. Node runs a
 * signal's listeners only from its event loop, after libuv's poll phase has read the
 * signal: `fn` being synchronous, two turns of the loop (setImmediate) after it make sure
 * one poll phase has passed, before the listeners are removed (which would drop the signal).
 */
export async function holdSignals<T>(fn: () => T): Promise<T> {
  let held: NodeJS.Signals | undefined;
  const hold = (signal: NodeJS.Signals): void => {
    held ??= signal;
  };
  process.on('SIGINT', hold);
  process.on('SIGTERM', hold);
  let result: { value: T } | { error: unknown };
  try {
    result = { value: fn() };
  } catch (e) {
    result = { error: e };
  }
  for (let turn = 0; turn < 2; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
  process.off('SIGINT', hold);
  process.off('SIGTERM', hold);
  if (held !== undefined) process.kill(process.pid, held);
  if ('error' in result) throw result.error;
  return result.value;
}

/**
 * The scenario file of `run`, `live` and `fidelity`, whose argument is declared optional
 * only for this: `--variant` takes every word after it, so `meshsim run --variant a FILE`
 * hands FILE to the option. When no file argument came and the last variant names an
 * existing file, that is the file; otherwise the argument is missing, and the message says
 * why that can happen.
 */
export function scenarioFileArgument(file: string | undefined, variants: string[] | undefined, usageError: (message: string) => Error): { file: string; variants: string[] | undefined } {
  if (file !== undefined) return { file, variants };
  const last = variants?.at(-1);
  if (variants !== undefined && last !== undefined && variants.length > 1 && isFile(last)) return { file: last, variants: variants.slice(0, -1) };
  const hint = variants !== undefined ? ` (--variant takes every word after it: put the scenario file before --variant, or end the names with --)` : '';
  throw usageError(`missing required argument 'file': the scenario file${hint}`);
}

/**
 * Where the report's page finds the scenario's text: the file, or the text itself when the
 * file cannot be read again (standard input).
 */
export function scenarioOf(loaded: LoadedScenario): WriteHtmlOptions {
  return loaded.source !== undefined ? { scenarioSource: { file: loaded.file, text: loaded.source } } : { scenarioFile: loaded.file };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** `--plugin FILE`, repeatable: every file, in order. */
export function pluginOption(value: string, previous: readonly string[] = []): string[] {
  return [...previous, value];
}

export const PLUGIN_HELP = 'an ES module of yours exporting balancer definitions; scenario files can then name their kinds (repeatable; docs/writing-a-policy.md)';

/** Loads the `--plugin` files, before the scenario or config that names their kinds is read; returns the kinds they define. */
export async function usePlugins(files: readonly string[] | undefined): Promise<string[]> {
  return files !== undefined && files.length > 0 ? loadPlugins(pluginUrls(files)) : [];
}
