import type { JobUpdateAnswer } from './coordinator-client.js';

/** Options of {@link TraceStream}. */
export interface TraceStreamOptions {
  /** Sends `bytes` at offset `start` (one request); throws on a transient failure. */
  readonly send: (start: number, bytes: Buffer) => Promise<JobUpdateAnswer>;
  /** Told the coordinator's view of the job after every answer (to notice a cancel). */
  readonly onAnswer?: (answer: JobUpdateAnswer) => void;
  /** Minimum milliseconds between two requests while the job runs; default 250. */
  readonly intervalMs?: number;
  /** Largest request body in bytes; default 256 KiB. */
  readonly maxChunkBytes?: number;
  /** Bytes of log kept at most; what comes after is dropped with a notice; default 16 MiB. */
  readonly limitBytes?: number;
}

/**
 * Streams a job's (already masked, valid UTF-8) log to the coordinator in chunks: at most one request in
 * flight, at most one request per interval (counted from the job's start, so a job shorter than
 * the interval sends its whole log at once when it ends), the whole unsent tail in each request up
 * to a chunk size.
 * A failed request is retried from the same offset; a 416 answer moves the offset to what the
 * coordinator has.
 */
export class TraceStream {
  readonly #options: TraceStreamOptions;
  readonly #intervalMs: number;
  readonly #maxChunk: number;
  readonly #limit: number;
  #chunks: Buffer[] = [];
  #length = 0;
  #sent = 0;
  #inFlight: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  // The first request also waits one interval: a short job then sends its whole log in one request.
  #lastSendAt = Date.now();
  #truncated = false;
  #failures = 0;

  constructor(options: TraceStreamOptions) {
    this.#options = options;
    this.#intervalMs = options.intervalMs ?? 250;
    this.#maxChunk = options.maxChunkBytes ?? 256 * 1024;
    this.#limit = options.limitBytes ?? 16 * 1024 * 1024;
  }

  /** Bytes of log accepted so far. */
  get length(): number {
    return this.#length;
  }

  /** Bytes the coordinator has acknowledged. */
  get sent(): number {
    return this.#sent;
  }

  /** Adds log bytes and schedules a send. */
  write(bytes: Buffer): void {
    if (this.#truncated || bytes.length === 0) return;
    let accepted = bytes;
    if (this.#length + bytes.length > this.#limit) {
      accepted = bytes.subarray(0, utf8Boundary(bytes, Math.max(0, this.#limit - this.#length)));
      this.#truncated = true;
    }
    this.#chunks.push(Buffer.from(accepted));
    this.#length += accepted.length;
    if (this.#truncated) {
      const notice = Buffer.from(
        `\nJob's log exceeded limit of ${this.#limit} bytes. Job execution will continue but no more output will be collected.\n`,
      );
      this.#chunks.push(notice);
      this.#length += notice.length;
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#inFlight !== undefined || this.#timer !== undefined || this.#sent >= this.#length) return;
    const backoff = this.#failures === 0 ? 0 : Math.min(10_000, 250 * 2 ** this.#failures);
    // A backlog of a full chunk or more goes out as fast as the coordinator takes it.
    const paced =
      this.#length - this.#sent >= this.#maxChunk ? 0 : this.#lastSendAt + this.#intervalMs - Date.now();
    const wait = Math.max(backoff, paced, 0);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#sendOnce().catch(() => undefined);
    }, wait);
  }

  /** Bytes `[from, to)` of the log, copied only from the chunks that hold them. */
  #slice(from: number, to: number): Buffer {
    const parts: Buffer[] = [];
    let offset = 0;
    for (const chunk of this.#chunks) {
      const chunkEnd = offset + chunk.length;
      if (chunkEnd > from && offset < to) {
        parts.push(chunk.subarray(Math.max(0, from - offset), Math.min(chunk.length, to - offset)));
      }
      offset = chunkEnd;
      if (offset >= to) break;
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }

  #pendingBytes(): Buffer {
    if (this.#length - this.#sent <= this.#maxChunk) return this.#slice(this.#sent, this.#length);
    // The coordinator stores the log as text: a chunk must not end inside a UTF-8 character, so
    // look at the (up to three) bytes after the cut too.
    const window = this.#slice(this.#sent, Math.min(this.#length, this.#sent + this.#maxChunk + 3));
    return window.subarray(0, utf8Boundary(window, this.#maxChunk, 0));
  }

  async #sendOnce(): Promise<void> {
    if (this.#inFlight !== undefined) return this.#inFlight;
    if (this.#sent >= this.#length) return;
    const run = (async () => {
      const start = this.#sent;
      const bytes = this.#pendingBytes();
      this.#lastSendAt = Date.now();
      try {
        const answer = await this.#options.send(start, bytes);
        this.#options.onAnswer?.(answer);
        if (answer.httpStatus === 416 && answer.remoteLength !== undefined) {
          // The coordinator has a different length (a lost answer, or a restart): continue from there.
          this.#sent = Math.min(answer.remoteLength, this.#length);
          this.#failures += 1;
        } else if (answer.httpStatus >= 200 && answer.httpStatus < 300) {
          this.#sent = start + bytes.length;
          this.#failures = 0;
        } else {
          // 403/404: the job is gone on the coordinator; nothing more will be accepted.
          this.#sent = this.#length;
        }
      } catch (error) {
        this.#failures += 1;
        throw error;
      } finally {
        this.#inFlight = undefined;
        this.#schedule();
      }
    })();
    this.#inFlight = run;
    return run;
  }

  /**
   * Sends everything written so far, retrying transient failures until `deadline` (epoch ms, or a
   * function answering it, checked before each attempt).
   * Returns whether the coordinator has the whole log.
   */
  async flush(deadline: number | (() => number)): Promise<boolean> {
    const until = typeof deadline === 'number' ? () => deadline : deadline;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#sent < this.#length && Date.now() < until()) {
      try {
        if (this.#inFlight !== undefined) await this.#inFlight;
        else await this.#sendOnce();
      } catch {
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(5_000, 200 * 2 ** Math.min(this.#failures, 5))),
        );
      }
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    return this.#sent >= this.#length;
  }

  /**
   * Ends streaming for a final report that carries the log's last part itself: stops scheduled
   * sends, waits for a request in flight, and answers the unsent bytes and their offset (empty when
   * everything was sent), or undefined when they do not fit in one request ({@link flush} them
   * first). {@link acknowledge} what the coordinator took.
   */
  async takeTail(): Promise<{ start: number; bytes: Buffer } | undefined> {
    this.close();
    if (this.#inFlight !== undefined) await this.#inFlight.catch(() => undefined);
    // The request's end may have scheduled the next one.
    this.close();
    if (this.#length - this.#sent > this.#maxChunk) return undefined;
    return { start: this.#sent, bytes: this.#slice(this.#sent, this.#length) };
  }

  /** Records that the coordinator has the log up to byte `end` (taken with a final report). */
  acknowledge(end: number): void {
    this.#sent = Math.max(this.#sent, Math.min(end, this.#length));
  }

  /** Stops scheduled sends (the job is over and flushed, or abandoned). */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** The largest offset ≤ `end` (and > `floor`, when possible) that does not split a UTF-8 character of `bytes`. */
export function utf8Boundary(bytes: Buffer, end: number, floor = 0): number {
  let cut = end;
  // Step back over continuation bytes (10xxxxxx): at most three for valid UTF-8.
  while (cut > floor && cut < bytes.length && ((bytes[cut] as number) & 0xc0) === 0x80 && end - cut < 3)
    cut -= 1;
  return cut > floor ? cut : end;
}
