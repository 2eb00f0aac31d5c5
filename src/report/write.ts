/**
 * File output: atomic writes (a temporary file in the same directory, then a rename over
 * the target), so an interrupted run never leaves a half-written file; a report's files
 * replaced as one set, the file readers go by last; directories made one level at a time.
 */
import { copyFileSync, linkSync, lstatSync, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, normalize, resolve } from 'node:path';

/** A path that must be a directory is something else (a file). */
export class NotADirectoryError extends Error {
  readonly code = 'ENOTDIR';

  constructor(readonly dir: string) {
    super(`${dir} exists and is not a directory (ENOTDIR)`);
    this.name = 'NotADirectoryError';
  }
}

/**
 * Creates `dir` and any missing parents, like `mkdir -p`; returns the directories it
 * created, outermost first. Not `mkdirSync(dir, { recursive: true })`: on Node 20 that
 * never returns for a path under /proc (mkdir there fails with ENOENT although the parent
 * exists, and Node retries the parent forever); one level at a time, every failure throws.
 */
export function makeDirs(dir: string): string[] {
  const missing: string[] = [];
  let here = resolve(dir);
  for (;;) {
    try {
      if (!statSync(here).isDirectory()) throw new NotADirectoryError(here);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    missing.push(here);
    const parent = dirname(here);
    if (parent === here) break;
    here = parent;
  }
  missing.reverse();
  for (const d of missing) mkdirSync(d);
  return missing;
}

/**
 * Why files could not be written into `dir`, or undefined when they can: checked before
 * a long run, so that a bad `--out` fails at once rather than after the simulation. It
 * creates the missing directories and a probe file, then removes what it created.
 */
export function outputDirProblem(dir: string): string | undefined {
  let created: string[] = [];
  try {
    created = makeDirs(dir);
    const probe = join(dir, `.meshsim-probe.${process.pid}.tmp`);
    writeFileSync(probe, '');
    rmSync(probe, { force: true });
    return undefined;
  } catch (e) {
    if (e instanceof NotADirectoryError) return `${e.dir} exists and is not a directory`;
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOTDIR') return 'a part of the path is a file, not a directory';
    if (err.code === 'EACCES' || err.code === 'EPERM') return 'permission denied';
    if (err.code === 'EROFS') return 'read-only file system';
    if (err.code === 'ENOENT') return `cannot create ${err.path ?? 'the directory'} there`;
    return err.message;
  } finally {
    removeDirs(created);
  }
}

/** Removes directories `made` by {@link makeDirs} (outermost first), innermost first; one not empty stays. */
function removeDirs(made: readonly string[]): void {
  for (let i = made.length - 1; i >= 0; i--) {
    try {
      rmdirSync(made[i]);
    } catch {
      // not empty or already gone: leave it
    }
  }
}

/** The temporary file beside `path` that this process writes before renaming it over `path`. */
function tmpPathOf(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
}

export function writeFileAtomic(path: string, content: string): void {
  const dir = dirname(path);
  makeDirs(dir);
  const tmp = tmpPathOf(path);
  removeOrphans([path]);
  try {
    writeFileSync(tmp, content);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** A file of a set written by {@link replaceFiles}; `path` is relative to the set's directory. */
export interface FileToWrite {
  readonly path: string;
  readonly content: string;
}

/**
 * Replaces a set of files in `dir` (paths relative to it), all or nothing, in three steps.
 * First every file is written in full to a temporary file beside its target: when one of
 * these writes fails (a full disk, a path that cannot be made), the temporary files and any
 * folder made for them go, and the folder is exactly as it was. Then every target is checked
 * (a directory where a file goes fails here, with nothing changed). Then the temporary files
 * are renamed over their targets, in order, each of `remove` is deleted (a missing one is no
 * error; its folders inside `dir` go too once empty), and the last of `files` is renamed
 * after all that. What each rename replaces and each deletion deletes is kept aside (a hard
 * link, else a copy) until the end: when a rename or deletion fails all the same, everything
 * is put back as it was, files this call added removed. The last file is the one readers go
 * by (report.json): once it is the new one, so is everything else. Only the renames and
 * deletions, microseconds, are a window in which a killed process can leave old and new
 * files side by side.
 */
export function replaceFiles(dir: string, files: readonly FileToWrite[], remove: readonly string[] = []): void {
  const staged: { readonly tmp: string; readonly path: string }[] = [];
  const madeDirs: string[] = [];
  const drop = (): void => {
    for (const s of staged) rmSync(s.tmp, { force: true });
    removeDirs(madeDirs);
  };
  try {
    for (const f of files) {
      const path = join(dir, f.path);
      madeDirs.push(...makeDirs(dirname(path)));
      const tmp = tmpPathOf(path);
      staged.push({ tmp, path });
      writeFileSync(tmp, f.content);
    }
    removeOrphans([...staged.map((s) => s.path), ...remove.map((path) => join(dir, path))]);
    for (const s of staged) checkFileTarget(s.path);
    for (const path of remove) checkFileTarget(join(dir, path));
  } catch (e) {
    drop();
    throw e;
  }
  const undo: (() => void)[] = [];
  const kept: string[] = [];
  /** Sets aside what is at `path` (its backup, or undefined when there is nothing). */
  const setAside = (path: string): string | undefined => {
    const backup = backupPathOf(path);
    rmSync(backup, { force: true });
    try {
      linkSync(path, backup);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      copyFileSync(path, backup); // a file system without hard links
    }
    kept.push(backup);
    return backup;
  };
  const place = (s: { readonly tmp: string; readonly path: string }): void => {
    const backup = setAside(s.path);
    renameSync(s.tmp, s.path);
    undo.push(backup === undefined ? () => rmSync(s.path, { force: true }) : () => renameSync(backup, s.path));
  };
  let next = 0;
  try {
    for (; next < staged.length - 1; next++) place(staged[next]);
    for (const path of remove) {
      const full = join(dir, path);
      const backup = setAside(full);
      if (backup === undefined) continue;
      rmSync(full, { force: true });
      undo.push(() => renameSync(backup, full));
    }
    if (next < staged.length) {
      place(staged[next]);
      next++;
    }
  } catch (e) {
    // Put back what was replaced or deleted, newest first; remove what was added.
    for (let i = undo.length - 1; i >= 0; i--) {
      try {
        undo[i]();
      } catch {
        // best effort: go on with the rest
      }
    }
    for (const backup of kept) rmSync(backup, { force: true });
    for (; next < staged.length; next++) rmSync(staged[next].tmp, { force: true });
    removeDirs(madeDirs);
    throw e;
  }
  for (const backup of kept) rmSync(backup, { force: true });
  for (const path of remove) removeEmptyParents(dir, path);
}

/** Throws, as the file system would (EISDIR), when `path` is a directory: a file cannot be renamed over it. */
function checkFileTarget(path: string): void {
  let isDirectory = false;
  try {
    isDirectory = lstatSync(path).isDirectory();
  } catch {
    return; // nothing there (or nothing we can see): the rename will say
  }
  if (isDirectory) throw Object.assign(new Error(`EISDIR: ${path} is a directory, where a file of the report goes; nothing was written`), { code: 'EISDIR', path });
}

/** Where {@link replaceFiles} keeps what it replaces until the set is in place: `.name.PID.bak` beside it. */
function backupPathOf(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.bak`);
}

/**
 * Deletes the temporary files and backups of `paths` (`.name.PID.tmp`, `.name.PID.bak`)
 * that a process killed while writing them (SIGKILL, the OOM killer) left behind: those
 * whose PID no longer runs. Each directory is listed once.
 */
function removeOrphans(paths: readonly string[]): void {
  const byDir = new Map<string, Set<string>>();
  for (const path of paths) {
    const names = byDir.get(dirname(path)) ?? new Set<string>();
    names.add(basename(path));
    byDir.set(dirname(path), names);
  }
  for (const [dir, targets] of byDir) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = /^\.(.+)\.([1-9][0-9]*)\.(?:tmp|bak)$/.exec(name);
      if (m === null || !targets.has(m[1])) continue;
      const pid = Number(m[2]);
      if (pid !== process.pid && !running(pid)) rmSync(join(dir, name), { force: true });
    }
  }
}

/** Whether a process of this PID runs (one of another user's counts as running). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Deletes the parent folders of `dir`/`path` up to `dir` (not included) while they are empty. */
function removeEmptyParents(dir: string, path: string): void {
  for (let sub = dirname(normalize(path)); sub !== '.' && sub !== '/' && !sub.startsWith('..'); sub = dirname(sub)) {
    try {
      rmdirSync(join(dir, sub));
    } catch {
      return; // not empty (files of the user's, say), or already gone: leave it
    }
  }
}
