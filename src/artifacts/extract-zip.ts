import { createWriteStream } from 'node:fs';
import { chmod, lstat, mkdir, realpath, rm, symlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { TesseraError } from '../errors.js';
import { openRandomAccessFile } from './random-access-file.js';
import { openZipEntry, readZipDirectory, safeEntryName } from './zip-reader.js';

/** What {@link extractZip} wrote. */
export interface ExtractSummary {
  readonly files: number;
  readonly bytes: number;
}

function escapes(name: string, why: string): TesseraError {
  return new TesseraError(
    'ERR_ARTIFACTS_ARCHIVE_INVALID',
    `the artifacts archive is refused: entry ${JSON.stringify(name)} ${why}`,
  );
}

/**
 * Extracts the zip at `archivePath` into `target`, refusing (before writing it) any entry that
 * would land outside `target`: `..` or absolute names, a symbolic link whose target leaves
 * `target`, and a path that goes through such a link. An existing file is replaced, never written
 * through. Checksums are verified while writing.
 *
 * @throws TesseraError `ERR_ARTIFACTS_ARCHIVE_INVALID` for a corrupt archive or an escaping entry.
 */
export async function extractZip(archivePath: string, target: string): Promise<ExtractSummary> {
  const source = await openRandomAccessFile(archivePath);
  if (source === undefined) throw new TypeError(`no archive at ${archivePath}`);
  const root = await realpath(resolve(target));
  let files = 0;
  let bytes = 0;
  try {
    const entries = await readZipDirectory(source);
    for (const entry of entries) {
      const name = safeEntryName(entry.name);
      const destination = join(root, ...name.split('/'));
      await mkdir(dirname(destination), { recursive: true });
      // A link extracted earlier (or left in the build directory) must not carry a write outside.
      const parent = await realpath(dirname(destination));
      if (parent !== root && !parent.startsWith(root + sep))
        throw escapes(entry.name, 'goes through a link that leaves the directory');
      const existing = await lstat(destination).catch(() => undefined);
      if (entry.kind === 'directory') {
        if (existing !== undefined && !existing.isDirectory())
          await rm(destination, { force: true, recursive: true });
        await mkdir(destination, { recursive: true });
        continue;
      }
      if (existing !== undefined) await rm(destination, { force: true, recursive: true });
      if (entry.kind === 'symlink') {
        const chunks: Buffer[] = [];
        for await (const chunk of await openZipEntry(source, entry)) chunks.push(chunk as Buffer);
        const linkTarget = Buffer.concat(chunks).toString('utf8');
        const resolved = resolve(dirname(destination), linkTarget);
        const inside = relative(root, resolved);
        if (isAbsolute(linkTarget) || inside.startsWith('..') || isAbsolute(inside))
          throw escapes(entry.name, `is a link to ${JSON.stringify(linkTarget)}, outside the directory`);
        await symlink(linkTarget, destination);
        continue;
      }
      const input = await openZipEntry(source, entry);
      // `wx`: a file that appeared since the rm above is not written through.
      await pipeline(input, createWriteStream(destination, { flags: 'wx', mode: 0o644 }));
      if (entry.mode !== 0) await chmod(destination, entry.mode & 0o777);
      files += 1;
      bytes += entry.size;
    }
  } finally {
    await source.close();
  }
  return { files, bytes };
}
