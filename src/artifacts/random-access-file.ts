import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { RandomAccessObject } from './artifact-store.js';

/** Opens a local file for random-access reads, or answers `undefined` when it does not exist. */
export async function openRandomAccessFile(path: string): Promise<RandomAccessObject | undefined> {
  const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (handle === undefined) return undefined;
  const { size } = await handle.stat();
  return {
    size,
    async read(position, length) {
      const buffer = Buffer.alloc(Math.max(0, Math.min(length, size - position)));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      return buffer.subarray(0, bytesRead);
    },
    stream(start, end) {
      // Its own descriptor: several entries may stream at once, and closing one must not close the rest.
      return end <= start ? Readable.from([]) : createReadStream(path, { start, end: end - 1 });
    },
    close: () => handle.close(),
  };
}
