/**
 * GitLab Runner's per-line log prefix (`FF_TIMESTAMPS`, on by default since GitLab Runner 18.7):
 *
 * ```
 * 2026-12-06T05:27:57.123456Z 01O <the line>
 * ^ RFC 3339, UTC, microseconds ^ ^ stream id (2 hex digits), stream type (O stdout, E stderr),
 *                                   then ' ' for a new line or '+' for the rest of the line before
 * ```
 *
 * A `+` line continues the line before it: the runner cut that one (a write ending in a carriage
 * return, or 8 KiB without a newline) and the `\n` that ends it is not part of the text. GitLab
 * parses the prefix in `Gitlab::Ci::Trace::Stream` (`TIMESTAMP_HEADER_REGEX`); the bytes of the
 * trace keep it, so the raw log shows it.
 */

/** Characters of the time (`2026-12-06T05:27:57.123456Z`). */
export const TIMESTAMP_LENGTH = 27;

/** Characters of the whole prefix: the time, a space, two hex digits, `O`/`E`, ` `/`+`. */
export const TIMESTAMP_PREFIX_LENGTH = 32;

/** Stream 0: the runner's own messages; 1: the job's script (gitlab-runner's numbering). */
export const RUNNER_STREAM = 0;
export const SCRIPT_STREAM = 1;

const PREFIX = /^(\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d\.\d{6}Z) ([0-9a-f]{2})([EO])([+ ])/;

/** What a line's prefix says. */
export interface TimestampPrefix {
  /** The time as written (`2026-12-06T05:27:57.123456Z`). */
  readonly time: string;
  readonly stream: number;
  readonly type: 'O' | 'E';
  /** Whether the line continues the one before it (`+`). */
  readonly continued: boolean;
}

/** The prefix `line` starts with, or null. */
export function parseTimestampPrefix(line: string): TimestampPrefix | null {
  if (line.length < TIMESTAMP_PREFIX_LENGTH || line[26] !== 'Z' || line[10] !== 'T') return null;
  const match = PREFIX.exec(line);
  if (match === null) return null;
  return {
    time: match[1] as string,
    stream: Number.parseInt(match[2] as string, 16),
    type: match[3] as 'O' | 'E',
    continued: match[4] === '+',
  };
}

/** One line of a log as a reader sees it: the prefixes taken off, `+` lines joined to theirs. */
export interface LogicalLine {
  /** The text, without prefixes and without the final `\n`. */
  text: string;
  /** The time of the line's last part (GitLab shows that one), or null without a prefix. */
  time: string | null;
  /** Whether the first part was a `+` line: it continues a line that ended before this text. */
  continuesEarlier: boolean;
}

/**
 * Splits log text (lines separated by `\n`, the last one without its newline) into
 * {@link LogicalLine}s: each prefix is taken off and remembered, and a `+` line is appended to the
 * line before it. Lines without a prefix (a log from a runner without `FF_TIMESTAMPS`) pass as they are.
 */
export function splitTimestampedLines(text: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  for (const physical of text.split('\n')) {
    const prefix = parseTimestampPrefix(physical);
    if (prefix === null) {
      out.push({ text: physical, time: null, continuesEarlier: false });
      continue;
    }
    const rest = physical.slice(TIMESTAMP_PREFIX_LENGTH);
    const previous = out.at(-1);
    if (prefix.continued && previous !== undefined) {
      previous.text += rest;
      previous.time = prefix.time;
    } else {
      out.push({ text: rest, time: prefix.time, continuesEarlier: prefix.continued });
    }
  }
  return out;
}

/**
 * The log as it reads without prefixes (`tessera run`'s terminal, coverage patterns): every
 * prefix removed and each `+` line joined to the line before it. Text without prefixes is
 * answered unchanged.
 */
export function stripTimestampPrefixes(text: string): string {
  if (!text.includes('Z 0') && !text.includes('Z 1')) {
    // Fast path for the common stream ids; anything else goes through the full parse.
    if (!/\dZ [0-9a-f]{2}[EO][+ ]/.test(text)) return text;
  }
  return splitTimestampedLines(text)
    .map((line) => line.text)
    .join('\n');
}
