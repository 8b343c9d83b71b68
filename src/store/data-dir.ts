import { mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { TesseraError } from '../errors.js';

/**
 * Makes sure the data directory exists (created owner-only when missing) and is a directory.
 *
 * @throws TesseraError `ERR_STORE_DATA_DIR_INVALID` naming the path and what is wrong with it (a
 *   file, a path through a file, no permission), instead of the bare `EEXIST`/`ENOTDIR` of `mkdir`.
 */
export function ensureDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw dataDirError(dataDir, error);
  }
  // mkdir -p succeeds on an existing directory, and on an existing file only on some platforms.
  if (!statSync(dataDir).isDirectory()) throw dataDirError(dataDir, { code: 'EEXIST' });
}

/** Whether `dataDir` exists, with the same refusal as {@link ensureDataDir} when it is not a directory. */
export function dataDirExists(dataDir: string): boolean {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dataDir).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw dataDirError(dataDir, error);
  }
  if (!isDirectory) throw dataDirError(dataDir, { code: 'EEXIST' });
  return true;
}

function dataDirError(dataDir: string, error: unknown): TesseraError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const path = resolve(dataDir);
  const what =
    code === 'EEXIST'
      ? 'is a file, not a directory'
      : code === 'ENOTDIR'
        ? 'goes through a file (a part of the path is not a directory)'
        : code === 'EACCES' || code === 'EPERM'
          ? 'cannot be created or read by this user (permission denied)'
          : code === 'EROFS'
            ? 'is on a read-only file system'
            : `cannot be used (${code ?? 'unknown error'})`;
  return new TesseraError(
    'ERR_STORE_DATA_DIR_INVALID',
    `the data directory ${path} ${what}: give --data-dir (TESSERA_DATA_DIR) a directory this user can write`,
    { cause: error },
  );
}
