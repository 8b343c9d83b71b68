import { Transform, type TransformCallback } from 'node:stream';
import { TesseraError } from '../errors.js';

/** Most bytes of one part's headers. */
const MAX_HEADER_BYTES = 16 * 1024;

function invalid(message: string): TesseraError {
  return new TesseraError(
    'ERR_ARTIFACTS_UPLOAD_INVALID',
    `the upload must be multipart/form-data with a file part: ${message}`,
  );
}

/** The `boundary` parameter of a `multipart/form-data` Content-Type, or `undefined`. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (contentType === undefined || !/^multipart\/form-data\s*;/i.test(contentType)) return undefined;
  const match = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
}

/**
 * Streams the body of the `file` part out of a `multipart/form-data` body (GitLab Runner's artifact
 * upload: one part, `name="file"`). Other fields before the file are skipped (up to a small
 * bound); the file part's bytes flow through as they arrive, holding back only enough to spot the
 * closing boundary. `filename` is known once the part's headers were read.
 */
export class MultipartFileStream extends Transform {
  /** The part's `filename`, once its headers were read. */
  filename: string | undefined;
  readonly #delimiter: Buffer;
  #state: 'preamble' | 'headers' | 'body' | 'done' = 'preamble';
  #pending: Buffer = Buffer.alloc(0);
  #skipped = 0;

  constructor(boundary: string) {
    super();
    this.#delimiter = Buffer.from(`\r\n--${boundary}`);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
      this.#advance();
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    done(
      this.#state === 'done'
        ? null
        : invalid('the body ended before the closing boundary (truncated upload)'),
    );
  }

  #advance(): void {
    for (;;) {
      if (this.#state === 'preamble') {
        // The first delimiter may come without its leading CRLF.
        const start = Buffer.concat([Buffer.from('\r\n'), this.#pending]).indexOf(this.#delimiter);
        if (start < 0) {
          if (this.#pending.length > MAX_HEADER_BYTES) throw invalid('no boundary found');
          return;
        }
        const after = start - 2 + this.#delimiter.length;
        if (this.#pending.length < after + 2) return;
        if (this.#pending.subarray(after, after + 2).toString() === '--') throw invalid('no file part');
        this.#pending = this.#pending.subarray(after + 2);
        this.#state = 'headers';
      } else if (this.#state === 'headers') {
        const end = this.#pending.indexOf('\r\n\r\n');
        if (end < 0) {
          if (this.#pending.length > MAX_HEADER_BYTES) throw invalid('part headers are too long');
          return;
        }
        const headers = this.#pending.subarray(0, end).toString('utf8');
        this.#pending = this.#pending.subarray(end + 4);
        const disposition = /^content-disposition:\s*form-data(.*)$/im.exec(headers)?.[1] ?? '';
        const name = /;\s*name="([^"]*)"/i.exec(disposition)?.[1];
        const filename = /;\s*filename="([^"]*)"/i.exec(disposition)?.[1];
        if (name === 'file') {
          this.filename = filename ?? 'artifacts';
          this.emit('file', this.filename);
          this.#state = 'body';
        } else {
          // A field before the file (GitLab's runner sends none; other clients may): skip its value.
          const next = this.#pending.indexOf(this.#delimiter);
          if (next < 0) {
            this.#skipped = this.#pending.length;
            if (this.#skipped > MAX_HEADER_BYTES) throw invalid('a field before the file part is too long');
            // Wait for the rest of the field; its headers are read again then.
            this.#pending = Buffer.concat([Buffer.from(`${headers}\r\n\r\n`), this.#pending]);
            return;
          }
          // Back to just before `--boundary`, which the preamble state reads as the next delimiter.
          this.#pending = this.#pending.subarray(next + 2);
          this.#state = 'preamble';
        }
      } else if (this.#state === 'body') {
        const end = this.#pending.indexOf(this.#delimiter);
        if (end >= 0) {
          if (end > 0) this.push(this.#pending.subarray(0, end));
          this.#pending = Buffer.alloc(0);
          this.#state = 'done';
          return;
        }
        // Keep what could be the start of the delimiter.
        const keep = this.#delimiter.length - 1;
        if (this.#pending.length > keep) {
          this.push(this.#pending.subarray(0, this.#pending.length - keep));
          this.#pending = Buffer.from(this.#pending.subarray(this.#pending.length - keep));
        }
        return;
      } else {
        // After the file: the epilogue and any later fields are ignored.
        this.#pending = Buffer.alloc(0);
        return;
      }
    }
  }
}
