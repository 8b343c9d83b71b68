/**
 * Values shorter than this are never masked. Masking a one-, two- or three-byte value (`1`, `on`,
 * `yes`) would rewrite ordinary words and numbers all over the log, making it unreadable, and the
 * pattern of `[MASKED]` holes would itself reveal the value; a secret that short is no secret.
 * GitLab refuses to mark user variables shorter than 8 characters as masked for the same reason;
 * we keep a lower floor so that short but real secrets that a job declares masked are still hidden.
 */
export const MIN_MASKED_LENGTH = 4;

/** What a masked value is replaced with in the log (GitLab's spelling). */
export const MASK_REPLACEMENT = '[MASKED]';

const REPLACEMENT_BYTES = Buffer.from(MASK_REPLACEMENT);

/**
 * A streaming log filter that replaces every occurrence of every masked value with `[MASKED]`,
 * also when a value arrives split across two or more writes.
 *
 * It works on bytes (a process writes bytes, and a UTF-8 character may itself be split across
 * writes), holds back only the tail of the stream that could still become a masked value, and
 * prefers the longest value when several match at the same place, so that a value containing a
 * shorter one is masked whole.
 *
 * @example
 * ```ts
 * const sink = new MaskingLogSink(['s3cr3t-value'], (bytes) => process.stdout.write(bytes));
 * sink.write('token: s3cr3t-');
 * sink.write('value\n'); // prints "token: [MASKED]\n"
 * sink.end();
 * ```
 */
export class MaskingLogSink {
  #phrases: Buffer[] = [];
  #firstBytes = new Set<number>();
  readonly #output: (bytes: Buffer) => void;
  #pending: Buffer = Buffer.alloc(0);
  #ended = false;

  /**
   * @param values the masked values; empty and too-short values are ignored (see {@link MIN_MASKED_LENGTH}).
   * @param output receives the masked bytes, in order.
   */
  constructor(values: Iterable<string>, output: (bytes: Buffer) => void) {
    this.addValues(values);
    this.#output = output;
  }

  /**
   * Adds masked values learned while the job runs (secrets resolved from Vault). They apply to
   * every byte written from now on, including bytes still held back.
   */
  addValues(values: Iterable<string>): void {
    const known = new Set(this.#phrases.map((phrase) => phrase.toString()));
    for (const value of values) {
      if (Buffer.byteLength(value) >= MIN_MASKED_LENGTH && !known.has(value)) {
        known.add(value);
        this.#phrases.push(Buffer.from(value));
      }
    }
    // Longest first, so that the longest value that matches at a position wins.
    this.#phrases.sort((a, b) => b.length - a.length);
    this.#firstBytes = new Set(this.#phrases.map((phrase) => phrase[0] as number));
  }

  /** Number of bytes held back because they may be the start of a masked value. */
  get pendingBytes(): number {
    return this.#pending.length;
  }

  /** Feeds bytes (or a UTF-8 string) from the job; emits what can no longer be part of a masked value. */
  write(chunk: Buffer | string): void {
    if (this.#ended) throw new TypeError('MaskingLogSink.write after end');
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (bytes.length === 0) return;
    this.#pending = this.#pending.length === 0 ? bytes : Buffer.concat([this.#pending, bytes]);
    this.#drain(false);
  }

  /** Emits everything still held back (masking complete values only) and refuses further writes. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#drain(true);
  }

  #drain(final: boolean): void {
    const input = this.#pending;
    const pieces: Buffer[] = [];
    let emittedUpTo = 0;
    let index = 0;
    let holdFrom = input.length;
    scan: while (index < input.length) {
      if (!this.#firstBytes.has(input[index] as number)) {
        index += 1;
        continue;
      }
      for (const phrase of this.#phrases) {
        const available = input.length - index;
        if (available >= phrase.length) {
          if (input.compare(phrase, 0, phrase.length, index, index + phrase.length) === 0) {
            if (index > emittedUpTo) pieces.push(input.subarray(emittedUpTo, index));
            pieces.push(REPLACEMENT_BYTES);
            index += phrase.length;
            emittedUpTo = index;
            continue scan;
          }
        } else if (!final && input.compare(phrase, 0, available, index, input.length) === 0) {
          // A longer value may still complete here with the next write: hold everything from here
          // on, even if a shorter value already matches, so that longest-first stays true.
          holdFrom = index;
          break scan;
        }
      }
      index += 1;
    }
    if (holdFrom > emittedUpTo) pieces.push(input.subarray(emittedUpTo, holdFrom));
    this.#pending = Buffer.from(input.subarray(Math.max(holdFrom, emittedUpTo)));
    if (pieces.length > 0) this.#output(pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces));
  }
}
