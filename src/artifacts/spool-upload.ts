import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TesseraError } from '../errors.js';
import type { StoredObject } from './artifact-store.js';

/** The 413 of an upload over `limit` bytes. */
export function tooLarge(limit: number): TesseraError {
  return new TesseraError(
    'ERR_ARTIFACTS_TOO_LARGE',
    `the artifacts are larger than the limit of ${Math.floor(limit / (1024 * 1024))} MB (max_artifacts_size)`,
  );
}

/**
 * Streams an upload into the file `path` (mode 0600), counting and hashing it as it passes and
 * cutting it off past `limit` bytes, so neither store holds an archive in memory nor keeps one
 * over the limit. A failed upload leaves no file.
 *
 * @throws TesseraError `ERR_ARTIFACTS_TOO_LARGE` past `limit`; the source's or the disk's errors.
 */
export async function spoolUpload(source: Readable, path: string, limit: number): Promise<StoredObject> {
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size > limit) {
        done(tooLarge(limit));
        return;
      }
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(source, meter, createWriteStream(path, { mode: 0o600 }));
  } catch (error) {
    await rm(path, { force: true });
    throw error;
  }
  return { size, sha256: hash.digest('hex') };
}
