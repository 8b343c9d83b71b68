import { once } from 'node:events';
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { constants, crc32, createDeflateRaw } from 'node:zlib';

/** One entry to write: a regular file (read from `source`), a directory, or a symbolic link. */
export type ZipEntry =
  | {
      readonly kind: 'file';
      readonly name: string;
      readonly source: string;
      readonly mode: number;
      readonly mtime: Date;
    }
  | { readonly kind: 'directory'; readonly name: string; readonly mode: number; readonly mtime: Date }
  | { readonly kind: 'symlink'; readonly name: string; readonly target: string; readonly mtime: Date };

/** What {@link writeZip} wrote. */
export interface ZipSummary {
  readonly entries: number;
  /** Bytes of the archive. */
  readonly bytes: number;
}

const FLAG_DATA_DESCRIPTOR = 0x0008;
const FLAG_UTF8 = 0x0800;
const METHOD_STORE = 0;
const METHOD_DEFLATE = 8;
/** Zip without Zip64: each entry and the archive stay under 4 GiB. */
const MAX_ZIP32 = 0xffff_fffe;

/**
 * Writes a zip archive of `entries` to `output` as a stream (local headers with data descriptors,
 * so no entry is held in memory or written twice): files deflated, directories and symbolic links
 * stored, Unix modes in the external attributes (as GitLab Runner's archiver does, so GitLab's
 * tools and `unzip` read it). Awaits `output`'s back-pressure; does not end `output`.
 *
 * @throws RangeError when an entry or the archive would pass 4 GiB (no Zip64).
 */
export async function writeZip(
  entries: AsyncIterable<ZipEntry> | Iterable<ZipEntry>,
  output: Writable,
  options: { level?: number } = {},
): Promise<ZipSummary> {
  let offset = 0;
  const central: Buffer[] = [];
  let count = 0;
  const write = async (chunk: Buffer): Promise<void> => {
    offset += chunk.length;
    if (offset > MAX_ZIP32)
      throw new RangeError('the archive would pass 4 GiB, which this zip writer does not support');
    if (!output.write(chunk)) await once(output, 'drain');
  };
  for await (const entry of entries) {
    const name = Buffer.from(
      entry.kind === 'directory' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name,
      'utf8',
    );
    const { time, date } = dosTime(entry.mtime);
    const headerOffset = offset;
    const method = entry.kind === 'file' ? METHOD_DEFLATE : METHOD_STORE;
    const flags = FLAG_UTF8 | (entry.kind === 'file' ? FLAG_DATA_DESCRIPTOR : 0);
    let crc = 0;
    let compressed = 0;
    let size = 0;
    let data: Buffer | null = null;
    if (entry.kind === 'symlink') {
      data = Buffer.from(entry.target, 'utf8');
      crc = crc32(data);
      compressed = size = data.length;
    }
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    await write(local);
    await write(name);
    if (data !== null) await write(data);
    if (entry.kind === 'file') {
      const deflate = createDeflateRaw({ level: options.level ?? constants.Z_DEFAULT_COMPRESSION });
      // Never through a link: a job could swap a file for one after it was collected.
      const handle = await open(entry.source, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
      const input = handle.createReadStream();
      input.on('data', (chunk) => {
        const bytes = chunk as Buffer;
        size += bytes.length;
        if (size > MAX_ZIP32) input.destroy(new RangeError(`${entry.name} is larger than 4 GiB`));
        crc = crc32(bytes, crc);
      });
      input.on('error', (error) => deflate.destroy(error));
      input.pipe(deflate);
      for await (const chunk of deflate) {
        compressed += (chunk as Buffer).length;
        await write(chunk as Buffer);
      }
      const descriptor = Buffer.alloc(16);
      descriptor.writeUInt32LE(0x08074b50, 0);
      descriptor.writeUInt32LE(crc >>> 0, 4);
      descriptor.writeUInt32LE(compressed, 8);
      descriptor.writeUInt32LE(size, 12);
      await write(descriptor);
    }
    const typeBits = entry.kind === 'directory' ? 0o040000 : entry.kind === 'symlink' ? 0o120000 : 0o100000;
    const mode = entry.kind === 'symlink' ? 0o777 : entry.mode & 0o7777;
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE((3 << 8) | 20, 4);
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(flags, 8);
    header.writeUInt16LE(method, 10);
    header.writeUInt16LE(time, 12);
    header.writeUInt16LE(date, 14);
    header.writeUInt32LE(crc >>> 0, 16);
    header.writeUInt32LE(compressed, 20);
    header.writeUInt32LE(size, 24);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt32LE((((typeBits | mode) << 16) | (entry.kind === 'directory' ? 0x10 : 0)) >>> 0, 38);
    header.writeUInt32LE(headerOffset, 42);
    central.push(header, name);
    count += 1;
    if (count > 0xfffe)
      throw new RangeError('more than 65534 entries, which this zip writer does not support');
  }
  const centralOffset = offset;
  for (const part of central) await write(part);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(count, 8);
  end.writeUInt16LE(count, 10);
  end.writeUInt32LE(offset - centralOffset, 12);
  end.writeUInt32LE(centralOffset, 16);
  await write(end);
  return { entries: count, bytes: offset };
}

function dosTime(date: Date): { time: number; date: number } {
  const year = Math.max(1980, date.getFullYear());
  return {
    time: (date.getHours() << 11) | (date.getMinutes() << 5) | Math.floor(date.getSeconds() / 2),
    date: ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate(),
  };
}
