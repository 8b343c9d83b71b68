import type { Readable } from 'node:stream';

/** What {@link ArtifactStore.put} learned about the bytes it kept. */
export interface StoredObject {
  readonly size: number;
  /** Hex SHA-256 of the bytes. */
  readonly sha256: string;
}

/**
 * Where artifact bytes live, behind one interface: the filesystem under the data directory (one
 * node) or S3-compatible object storage (several nodes). Bytes flow as streams both ways; nothing
 * holds a whole archive in memory.
 */
export interface ArtifactStore {
  /** A short description for logs and the banner (`filesystem /data/artifacts`). */
  readonly description: string;
  /**
   * Streams `source` into `key`. With more than `limit` bytes, stops reading, keeps nothing and
   * throws `ERR_ARTIFACTS_TOO_LARGE`; on any failure nothing half-written stays visible under `key`.
   */
  put(key: string, source: Readable, limit: number): Promise<StoredObject>;
  /** The bytes under `key` and how many there are, or `undefined` when there are none. */
  get(key: string): Promise<{ readonly stream: Readable; readonly size: number } | undefined>;
  /** Opens `key` for random access reads (for listing and reading single files of a zip). */
  open(key: string): Promise<RandomAccessObject | undefined>;
  /** Removes `key`; a missing key is not an error. */
  delete(key: string): Promise<void>;
}

/** Random-access reads of one stored object. */
export interface RandomAccessObject {
  readonly size: number;
  /** Reads `length` bytes at `position`. */
  read(position: number, length: number): Promise<Buffer>;
  /** Streams `[start, end)`. */
  stream(start: number, end: number): Readable;
  close(): Promise<void>;
}
