import { randomUUID } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import type { ArtifactStore, RandomAccessObject, StoredObject } from './artifact-store.js';
import { openRandomAccessFile } from './random-access-file.js';
import { spoolUpload } from './spool-upload.js';

const KEY = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

/**
 * Artifacts as files under one directory (default `<dataDir>/artifacts`, mode 0700). An upload
 * is written to `tmp/` first and renamed into place only once complete and within its limit, so a
 * failed or refused upload leaves nothing behind under its key.
 */
export class FilesystemArtifactStore implements ArtifactStore {
  readonly description: string;
  readonly #root: string;

  constructor(root: string) {
    this.#root = resolve(root);
    this.description = `filesystem ${this.#root}`;
  }

  #path(key: string): string {
    if (!KEY.test(key) || key.split('/').some((part) => part === '..' || part === '.'))
      throw new TypeError(`not an artifact store key: ${key}`);
    const path = join(this.#root, key);
    if (!path.startsWith(this.#root + sep)) throw new TypeError(`not an artifact store key: ${key}`);
    return path;
  }

  async put(key: string, source: Readable, limit: number): Promise<StoredObject> {
    const target = this.#path(key);
    const tmpDir = join(this.#root, 'tmp');
    await mkdir(tmpDir, { recursive: true, mode: 0o700 });
    const tmp = join(tmpDir, randomUUID());
    const stored = await spoolUpload(source, tmp, limit);
    try {
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      await rename(tmp, target);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    return stored;
  }

  async get(key: string): Promise<{ stream: Readable; size: number } | undefined> {
    const handle = await open(this.#path(key), 'r').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (handle === undefined) return undefined;
    // The size of what is there, not of what was recorded: a damaged store must not hang a download.
    const { size } = await handle.stat();
    // 1 MiB reads: a fourth of the syscalls and event-loop turns of the 64 KiB default, which
    // Fastify's send path otherwise pays for per chunk (bench/artifacts.bench.ts).
    return { stream: handle.createReadStream({ highWaterMark: 1024 * 1024 }), size };
  }

  async open(key: string): Promise<RandomAccessObject | undefined> {
    return openRandomAccessFile(this.#path(key));
  }

  async delete(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
  }
}
