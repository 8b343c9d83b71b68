import { type Readable, Transform } from 'node:stream';
import { crc32, createInflateRaw } from 'node:zlib';
import { TesseraError } from '../errors.js';
import type { RandomAccessObject } from './artifact-store.js';

/** One entry of a zip's central directory. */
export interface ZipDirectoryEntry {
  /** The name as stored (`/`-separated; directories end in `/`). */
  readonly name: string;
  readonly kind: 'file' | 'directory' | 'symlink';
  /** Unix permission bits (0 when the archive has none). */
  readonly mode: number;
  readonly method: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
  readonly mtime: Date;
}

/** Most entries an archive may list: a bound on the memory of reading its directory. */
const MAX_ENTRIES = 200_000;

function invalid(message: string): TesseraError {
  return new TesseraError(
    'ERR_ARTIFACTS_ARCHIVE_INVALID',
    `the artifacts archive is not a valid zip: ${message}`,
  );
}

/**
 * Reads the central directory of the zip in `source` (its end record, then the entries), checking
 * that every entry lies inside the file. Zip64 archives are refused.
 *
 * @throws TesseraError `ERR_ARTIFACTS_ARCHIVE_INVALID` for anything else than a zip.
 */
export async function readZipDirectory(source: RandomAccessObject): Promise<ZipDirectoryEntry[]> {
  const tailLength = Math.min(source.size, 22 + 0xffff);
  if (tailLength < 22) throw invalid('it is too short');
  const tail = await source.read(source.size - tailLength, tailLength);
  let at = -1;
  for (let index = tail.length - 22; index >= 0; index -= 1) {
    if (tail.readUInt32LE(index) === 0x06054b50) {
      at = index;
      break;
    }
  }
  if (at < 0) throw invalid('no end of central directory record (truncated or not a zip)');
  const count = tail.readUInt16LE(at + 10);
  const directorySize = tail.readUInt32LE(at + 12);
  const directoryOffset = tail.readUInt32LE(at + 16);
  if (count === 0xffff || directoryOffset === 0xffffffff) throw invalid('Zip64 archives are not supported');
  if (count > MAX_ENTRIES) throw invalid(`it lists more than ${MAX_ENTRIES} entries`);
  if (directoryOffset + directorySize > source.size - tailLength + at)
    throw invalid('the central directory lies outside the file (truncated)');
  const directory = await source.read(directoryOffset, directorySize);
  const entries: ZipDirectoryEntry[] = [];
  let position = 0;
  for (let index = 0; index < count; index += 1) {
    if (position + 46 > directory.length || directory.readUInt32LE(position) !== 0x02014b50)
      throw invalid('a central directory entry is damaged');
    const madeBy = directory.readUInt16LE(position + 4) >> 8;
    const method = directory.readUInt16LE(position + 10);
    const time = directory.readUInt16LE(position + 12);
    const date = directory.readUInt16LE(position + 14);
    const crc = directory.readUInt32LE(position + 16);
    const compressedSize = directory.readUInt32LE(position + 20);
    const size = directory.readUInt32LE(position + 24);
    const nameLength = directory.readUInt16LE(position + 28);
    const extraLength = directory.readUInt16LE(position + 30);
    const commentLength = directory.readUInt16LE(position + 32);
    const external = directory.readUInt32LE(position + 38);
    const localHeaderOffset = directory.readUInt32LE(position + 42);
    if (position + 46 + nameLength > directory.length) throw invalid('a central directory entry is damaged');
    const name = directory.toString('utf8', position + 46, position + 46 + nameLength);
    position += 46 + nameLength + extraLength + commentLength;
    if (localHeaderOffset + 30 + compressedSize > directoryOffset)
      throw invalid(`entry ${JSON.stringify(name)} lies outside the file`);
    const unixMode = madeBy === 3 ? external >>> 16 : 0;
    const type = unixMode & 0o170000;
    const kind =
      type === 0o120000 ? 'symlink' : type === 0o040000 || name.endsWith('/') ? 'directory' : 'file';
    entries.push({
      name,
      kind,
      mode: unixMode & 0o7777,
      method,
      crc,
      compressedSize,
      size,
      localHeaderOffset,
      mtime: new Date(
        1980 + (date >> 9),
        ((date >> 5) & 0xf) - 1,
        date & 0x1f,
        time >> 11,
        (time >> 5) & 0x3f,
        (time & 0x1f) * 2,
      ),
    });
  }
  return entries;
}

/**
 * Streams the uncompressed bytes of `entry` (stored or deflated), checking its size and CRC-32;
 * a mismatch (a corrupt archive, or a "zip bomb" that inflates past its declared size) destroys
 * the stream with `ERR_ARTIFACTS_ARCHIVE_INVALID`.
 */
export async function openZipEntry(source: RandomAccessObject, entry: ZipDirectoryEntry): Promise<Readable> {
  const local = await source.read(entry.localHeaderOffset, 30);
  if (local.length < 30 || local.readUInt32LE(0) !== 0x04034b50)
    throw invalid(`the header of ${JSON.stringify(entry.name)} is damaged`);
  const start = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  const end = start + entry.compressedSize;
  if (end > source.size) throw invalid(`entry ${JSON.stringify(entry.name)} is truncated`);
  if (entry.method !== 0 && entry.method !== 8)
    throw invalid(
      `entry ${JSON.stringify(entry.name)} uses compression method ${entry.method}; only stored and deflate are read`,
    );
  const raw = source.stream(start, end);
  let crc = 0;
  let size = 0;
  const check = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size > entry.size) {
        done(invalid(`entry ${JSON.stringify(entry.name)} is larger than its declared size`));
        return;
      }
      crc = crc32(chunk, crc);
      done(null, chunk);
    },
    flush(done) {
      if (size !== entry.size || crc >>> 0 !== entry.crc >>> 0)
        done(invalid(`entry ${JSON.stringify(entry.name)} fails its checksum (corrupt archive)`));
      else done();
    },
  });
  const fail = (error: Error) =>
    check.destroy(
      error instanceof TesseraError
        ? error
        : invalid(`entry ${JSON.stringify(entry.name)}: ${error.message}`),
    );
  if (entry.method === 0) {
    raw.on('error', fail);
    return raw.pipe(check);
  }
  const inflate = createInflateRaw();
  raw.on('error', fail);
  inflate.on('error', fail);
  return raw.pipe(inflate).pipe(check);
}

/**
 * Checks that `name` is a relative path that stays inside the directory it is extracted to (no
 * absolute path, drive, backslash, NUL, `..` segment); answers it without a trailing `/`.
 *
 * @throws TesseraError `ERR_ARTIFACTS_ARCHIVE_INVALID` naming the entry.
 */
export function safeEntryName(name: string): string {
  const trimmed = name.endsWith('/') ? name.slice(0, -1) : name;
  const parts = trimmed.split('/');
  if (
    trimmed === '' ||
    trimmed.startsWith('/') ||
    /^[A-Za-z]:/.test(trimmed) ||
    trimmed.includes('\\') ||
    trimmed.includes('\0') ||
    parts.some((part) => part === '..' || part === '' || part === '.')
  ) {
    throw invalid(`entry ${JSON.stringify(name)} would be extracted outside the target directory`);
  }
  return trimmed;
}
