import { open, readdir, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { ListLocalFiles, ReadLocalFile } from './include.js';
import { PIPELINE_LIMITS } from './limits.js';

/**
 * An `include:local` reader over a directory on disk (a working copy), for `tessera ci lint`.
 * Paths are relative to `root`; a path that leaves it (through `..` or a symbolic link) reads as
 * absent, and a file larger than {@link PIPELINE_LIMITS.maxFileBytes} reads only that far, so the
 * parse pass refuses it without the whole file in memory.
 */
export function createDirectoryReader(root: string): ReadLocalFile {
  return async (path: string) => {
    const base = await realpath(root).catch(() => resolve(root));
    const candidate = resolve(base, path);
    let real: string;
    try {
      real = await realpath(candidate);
    } catch {
      return undefined;
    }
    const inside = relative(base, real);
    if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside))
      return undefined;
    return readConfigFile(real);
  };
}

/**
 * Reads a configuration file as UTF-8, or `undefined` when it is absent or not a regular file.
 * A file larger than {@link PIPELINE_LIMITS.maxFileBytes} reads only one byte past the limit:
 * enough for the parse pass to refuse it, without the whole file in memory.
 */
export async function readConfigFile(path: string): Promise<string | undefined> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const stat = await handle.stat();
    if (!stat.isFile()) return undefined;
    const length = Math.min(stat.size, PIPELINE_LIMITS.maxFileBytes + 1);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, 0);
    return buffer.toString('utf8');
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}

/** Most files a directory listing for `include:local` wildcards visits. */
const MAX_LISTED_FILES = 100_000;

/**
 * Lists the regular files under `root` (paths from it, `/`-separated) for `include:local`
 * wildcards, as `git ls-files` would list a working copy: `.git` is left out, symbolic links are
 * not followed, and the walk stops after {@link MAX_LISTED_FILES} files.
 */
export function createDirectoryLister(root: string): ListLocalFiles {
  return async () => {
    const files: string[] = [];
    const pending = [''];
    while (pending.length > 0 && files.length < MAX_LISTED_FILES) {
      const directory = pending.pop()!;
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(join(root, directory), { withFileTypes: true });
      } catch {
        continue;
      }
      for (const entry of entries) {
        const path = directory === '' ? entry.name : `${directory}/${entry.name}`;
        if (entry.isDirectory() && entry.name !== '.git') pending.push(path);
        else if (entry.isFile()) files.push(path);
      }
    }
    return files.sort();
  };
}
