import { formatTimestampPrefix } from '../job-log/timestamp-prefix.js';

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** Bytes held without a newline before they go out as a cut line (gitlab-runner's 8 KiB). */
const LINE_BUFFER_BYTES = 8 * 1024;

/** Options of {@link LogTimestamper}. */
export interface LogTimestamperOptions {
  /** Receives the prefixed bytes, in order. */
  readonly output: (bytes: Buffer) => void;
  /** The stream's id: 0 for the runner's messages, 1 for the script (gitlab-runner's numbering). */
  readonly stream: number;
  /** `O` for standard output, `E` for standard error. */
  readonly type: 'O' | 'E';
  /** Time in epoch milliseconds, with a fraction where the clock has one; default `performance`'s. */
  readonly clock?: () => number;
}

/** The wall clock with microseconds (Date.now has only milliseconds). */
function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Prefixes every line of one output stream with the time it was written, in GitLab Runner's
 * `FF_TIMESTAMPS` format (see `src/job-log/timestamp-prefix.ts`), as gitlab-runner's
 * `timestamper.Logger` does: a line goes out when its newline arrives; a write that holds a
 * carriage return but no newline goes out at once (a progress bar shows live) ending with a `\n`
 * that the next line's `+` marks as not part of the text; a line longer than 8 KiB goes out in
 * 8 KiB parts the same way. It never cuts a UTF-8 character: a cut keeps the character's first
 * bytes for the next part. Masking happens before this (a secret is never split by a prefix).
 */
export class LogTimestamper {
  readonly #options: LogTimestamperOptions;
  readonly #clock: () => number;
  #buffer: Buffer[] = [];
  #buffered = 0;
  /** The time of the buffered line's first byte (the time of a line is when it started). */
  #lineStartedAt = 0;
  #continued = false;

  constructor(options: LogTimestamperOptions) {
    this.#options = options;
    this.#clock = options.clock ?? preciseNow;
  }

  #prefix(at: number): Buffer {
    const ms = Math.floor(at);
    const micros = Math.floor((at - ms) * 1000);
    const prefix = formatTimestampPrefix(
      ms,
      micros,
      this.#options.stream,
      this.#options.type,
      this.#continued,
    );
    return Buffer.from(prefix);
  }

  /** Sends the buffered line and `rest` (up to a newline it ends with, or adding one) as one line. */
  #emit(rest: Buffer, endsLine: boolean): void {
    const at = this.#buffered > 0 ? this.#lineStartedAt : this.#clock();
    const parts = [this.#prefix(at), ...this.#buffer, rest];
    let continues = false;
    if (!endsLine) {
      parts.push(Buffer.from('\n'));
      continues = true;
    }
    this.#buffer = [];
    this.#buffered = 0;
    this.#options.output(Buffer.concat(parts));
    this.#continued = continues;
  }

  /** Takes bytes of the stream. */
  write(chunk: Buffer | string): void {
    let bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (bytes.length === 0) return;
    // Every complete line.
    let newline = bytes.indexOf(NEWLINE);
    while (newline !== -1) {
      this.#emit(bytes.subarray(0, newline + 1), true);
      bytes = bytes.subarray(newline + 1);
      newline = bytes.indexOf(NEWLINE);
    }
    if (bytes.length === 0) return;
    if (bytes.includes(CARRIAGE_RETURN)) {
      // A progress update: out now, whole (a cut at the \r would leave its tail for a later, wrong time).
      const keep = incompleteUtf8Tail(bytes);
      this.#emit(bytes.subarray(0, bytes.length - keep), false);
      if (keep > 0) this.#hold(bytes.subarray(bytes.length - keep));
      return;
    }
    if (this.#buffered + bytes.length > LINE_BUFFER_BYTES) {
      const keep = incompleteUtf8Tail(bytes);
      this.#emit(bytes.subarray(0, bytes.length - keep), false);
      if (keep > 0) this.#hold(bytes.subarray(bytes.length - keep));
      return;
    }
    this.#hold(bytes);
  }

  #hold(bytes: Buffer): void {
    if (this.#buffered === 0) this.#lineStartedAt = this.#clock();
    this.#buffer.push(Buffer.from(bytes));
    this.#buffered += bytes.length;
  }

  /** Sends a last line without a newline (with one added, as gitlab-runner does). */
  end(): void {
    if (this.#buffered === 0) return;
    this.#emit(Buffer.from('\n'), true);
  }
}

/** How many bytes at the end of `bytes` are the start of a UTF-8 character still missing bytes. */
function incompleteUtf8Tail(bytes: Buffer): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back += 1) {
    const byte = bytes[bytes.length - back] as number;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? back : 0;
  }
  return 0;
}
