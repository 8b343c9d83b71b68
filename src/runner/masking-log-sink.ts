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

/** A JWT longer than this is not looked for (the coordinator's tokens stay under 4 KB). */
const MAX_JWT_LENGTH = 16 * 1024;
const E = 0x65; // 'e'
const DOT = 0x2e;

function isBase64UrlByte(byte: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    byte === 0x2d || // -
    byte === 0x5f // _
  );
}

/**
 * Whether a JWS compact token (`eyJ….eyJ….sig`: a JSON header and a JSON payload, base64url) starts
 * at `start` of `bytes`: its length, 0 if not, or `'incomplete'` when the bytes end inside what may
 * still become one (unless `final`). Tokens a job requests on demand (`tessera id-token`, or curl
 * against the request URL) are unknown to the runner, so every JWT-shaped string is treated as a
 * credential and masked; a JWT is never something a log needs to show.
 */
export function jwtAt(bytes: Buffer, start: number, final: boolean): number | 'incomplete' {
  const header = [0x65, 0x79, 0x4a]; // "eyJ": base64url of '{"'
  let index = start;
  const segments: [number, number][] = [];
  let segmentStart = start;
  while (index < bytes.length && index - start < MAX_JWT_LENGTH) {
    const byte = bytes[index] as number;
    if (byte === DOT) {
      segments.push([segmentStart, index]);
      if (segments.length === 3) break;
      segmentStart = index + 1;
    } else if (!isBase64UrlByte(byte)) {
      break;
    }
    index += 1;
  }
  const ended = index < bytes.length || index - start >= MAX_JWT_LENGTH;
  if (!ended && !final) {
    // Still inside a run that may be a token; only worth holding if it starts like one.
    const seen = Math.min(3, bytes.length - start);
    for (let offset = 0; offset < seen; offset += 1) if (bytes[start + offset] !== header[offset]) return 0;
    return 'incomplete';
  }
  if (segments.length < 3) segments.push([segmentStart, index]);
  if (segments.length < 3) return 0;
  const [first, second, third] = segments as [[number, number], [number, number], [number, number]];
  const startsWithHeader = ([from, to]: [number, number]) =>
    to - from > 3 && bytes[from] === 0x65 && bytes[from + 1] === 0x79 && bytes[from + 2] === 0x4a;
  if (!startsWithHeader(first) || !startsWithHeader(second) || third[1] - third[0] < 16) return 0;
  return third[1] - start;
}

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
  readonly #maskJwts: boolean;

  /**
   * @param values the masked values; empty and too-short values are ignored (see {@link MIN_MASKED_LENGTH}).
   * @param output receives the masked bytes, in order.
   * @param options `maskJwts` (default true): also mask every JWT-shaped string, see {@link jwtAt}.
   */
  constructor(
    values: Iterable<string>,
    output: (bytes: Buffer) => void,
    options: { maskJwts?: boolean } = {},
  ) {
    this.addValues(values);
    this.#output = output;
    this.#maskJwts = options.maskJwts ?? true;
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

  /**
   * Emits everything still held back (masking complete values only), and goes on taking writes:
   * the end of one process's output, when more output of the same stream may follow later.
   */
  flush(): void {
    if (!this.#ended) this.#drain(true);
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
      if (!this.#firstBytes.has(input[index] as number) && !(this.#maskJwts && input[index] === E)) {
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
      if (this.#maskJwts && input[index] === E) {
        const jwt = jwtAt(input, index, final);
        if (jwt === 'incomplete') {
          holdFrom = index;
          break;
        }
        if (jwt > 0) {
          if (index > emittedUpTo) pieces.push(input.subarray(emittedUpTo, index));
          pieces.push(REPLACEMENT_BYTES);
          index += jwt;
          emittedUpTo = index;
          continue;
        }
      }
      index += 1;
    }
    if (holdFrom > emittedUpTo) pieces.push(input.subarray(emittedUpTo, holdFrom));
    this.#pending = Buffer.from(input.subarray(Math.max(holdFrom, emittedUpTo)));
    if (pieces.length > 0) this.#output(pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces));
  }
}
