/**
 * node:fs with a renameSync that fails on demand (ENOSPC, as a full disk might say), for the
 * tests of all-or-nothing writes. A test file mocks node:fs with it:
 *
 *   vi.mock('node:fs', async (importOriginal) => (await import('../_failing-rename.js')).fsWithFailingRename(importOriginal));
 *
 * then sets `failingRename.to` to a suffix: a rename whose target ends with it throws.
 */
import type * as Fs from 'node:fs';

/** A rename whose target ends with `to` fails; unset: none. Reset it after each test. */
export const failingRename: { to: string | undefined } = { to: undefined };

export async function fsWithFailingRename(importOriginal: () => Promise<unknown>): Promise<typeof Fs> {
  const actual = (await importOriginal()) as typeof Fs;
  return {
    ...actual,
    renameSync: (from: Fs.PathLike, to: Fs.PathLike) => {
      const suffix = failingRename.to;
      if (suffix !== undefined && String(to).endsWith(suffix)) throw Object.assign(new Error(`ENOSPC: no space left on device, rename '${String(from)}' -> '${String(to)}'`), { code: 'ENOSPC' });
      actual.renameSync(from, to);
    },
  };
}
