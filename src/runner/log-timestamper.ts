const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const NEWLINE_BYTES = Buffer.from('\n');

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

  // The date and time to the second, formatted once per second (a busy job writes many lines in one).
  #cachedSecond = -1;
  #cachedSecondText = '';

  #prefix(at: number): string {
    const second = Math.floor(at / 1000);
    if (second !== this.#cachedSecond) {
      this.#cachedSecond = second;
      this.#cachedSecondText = new Date(second * 1000).toISOString().slice(0, 19);
    }
    const micros = Math.min(999_999, Math.floor((at - second * 1000) * 1000));
    const id = (this.#options.stream & 0xff).toString(16).padStart(2, '0');
    return `${this.#cachedSecondText}.${String(micros).padStart(6, '0')}Z ${id}${this.#options.type}${
      this.#continued ? '+' : ' '
    }`;
  }

  /** Queues the buffered line and `rest` (up to a newline it ends with, or adding one) as one line. */
  #emit(out: Buffer[], rest: Buffer, endsLine: boolean): void {
    const at = this.#buffered > 0 ? this.#lineStartedAt : this.#clock();
    out.push(Buffer.from(this.#prefix(at)), ...this.#buffer, rest);
    if (!endsLine) out.push(NEWLINE_BYTES);
    this.#buffer = [];
    this.#buffered = 0;
    this.#continued = !endsLine;
  }

  #send(out: Buffer[]): void {
    if (out.length > 0) this.#options.output(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out));
  }

  /** Takes bytes of the stream; every line it completes goes out in one piece of output. */
  write(chunk: Buffer | string): void {
    let bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (bytes.length === 0) return;
    const out: Buffer[] = [];
    // Every complete line.
    let newline = bytes.indexOf(NEWLINE);
    while (newline !== -1) {
      this.#emit(out, bytes.subarray(0, newline + 1), true);
      bytes = bytes.subarray(newline + 1);
      newline = bytes.indexOf(NEWLINE);
    }
    if (bytes.length > 0) {
      if (bytes.includes(CARRIAGE_RETURN) || this.#buffered + bytes.length > LINE_BUFFER_BYTES) {
        // A progress update (out now, whole: a cut at the \r would leave its tail for a later,
        // wrong time), or a line past the buffer: out as a part, the rest to follow as `+`.
        const keep = incompleteUtf8Tail(bytes);
        this.#emit(out, bytes.subarray(0, bytes.length - keep), false);
        if (keep > 0) this.#hold(bytes.subarray(bytes.length - keep));
      } else {
        this.#hold(bytes);
      }
    }
    this.#send(out);
  }

  #hold(bytes: Buffer): void {
    if (this.#buffered === 0) this.#lineStartedAt = this.#clock();
    this.#buffer.push(Buffer.from(bytes));
    this.#buffered += bytes.length;
  }

  /** Sends a last line without a newline (with one added, as gitlab-runner does). */
  end(): void {
    if (this.#buffered === 0) return;
    const out: Buffer[] = [];
    this.#emit(out, NEWLINE_BYTES, true);
    this.#send(out);
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
