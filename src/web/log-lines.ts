import { type LogicalLine, splitTimestampedLines } from '../job-log/timestamp-prefix.js';

/** A run of log text in one style: CSS class names for its foreground, background and weight. */
export interface LogSpan {
  text: string;
  /** Space-separated classes (`term-fg-red term-bold`), '' for plain text. */
  classes: string;
}

/**
 * One rendered unit of a job log, as the page and the live stream both use it. `at` is the time the
 * runner wrote the line (its FF_TIMESTAMPS prefix, RFC 3339 with microseconds, UTC), when it has one.
 */
export type LogLine =
  | { kind: 'line'; spans: LogSpan[]; at?: string }
  | {
      kind: 'section_start';
      name: string;
      time: number;
      collapsed: boolean;
      spans: LogSpan[];
      at?: string;
    }
  | { kind: 'section_end'; name: string; time: number };

/** The SGR state carried from one escape sequence to the next (and from line to line, as GitLab). */
export interface AnsiState {
  fg: string | null;
  bg: string | null;
  bold: boolean;
  italic: boolean;
  underline: boolean;
}

/** A fresh state: no colour, no weight. */
export function initialAnsiState(): AnsiState {
  return { fg: null, bg: null, bold: false, italic: false, underline: false };
}

const COLOURS = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];

function applySgr(state: AnsiState, codes: number[]): void {
  if (codes.length === 0) codes = [0];
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i]!;
    if (code === 0) Object.assign(state, initialAnsiState());
    else if (code === 1) state.bold = true;
    else if (code === 3) state.italic = true;
    else if (code === 4) state.underline = true;
    else if (code === 22) state.bold = false;
    else if (code === 23) state.italic = false;
    else if (code === 24) state.underline = false;
    else if (code >= 30 && code <= 37) state.fg = COLOURS[code - 30]!;
    else if (code === 39) state.fg = null;
    else if (code >= 40 && code <= 47) state.bg = COLOURS[code - 40]!;
    else if (code === 49) state.bg = null;
    else if (code >= 90 && code <= 97) state.fg = `l-${COLOURS[code - 90]!}`;
    else if (code >= 100 && code <= 107) state.bg = `l-${COLOURS[code - 100]!}`;
    else if ((code === 38 || code === 48) && codes[i + 1] === 5 && codes[i + 2] !== undefined) {
      // 256-colour palette: the first 16 map onto the named colours, the rest to xterm-<n>.
      const index = codes[i + 2]!;
      const name = index < 8 ? COLOURS[index]! : index < 16 ? `l-${COLOURS[index - 8]!}` : `xterm-${index}`;
      if (code === 38) state.fg = name;
      else state.bg = name;
      i += 2;
    } else if ((code === 38 || code === 48) && codes[i + 1] === 2) {
      i += 4; // 24-bit colour: not rendered (a class per colour is not possible), skipped whole.
    }
  }
}

function classesOf(state: AnsiState): string {
  const out: string[] = [];
  if (state.fg) out.push(`term-fg-${state.fg}`);
  if (state.bg) out.push(`term-bg-${state.bg}`);
  if (state.bold) out.push('term-bold');
  if (state.italic) out.push('term-italic');
  if (state.underline) out.push('term-underline');
  return out.join(' ');
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences start with ESC
const ESCAPE = /\u001b\[([0-9;?]*)([A-Za-z])/g;

/** Splits one line (no `\n`) into styled spans, updating `state`; other escape sequences are dropped. */
function spansOf(text: string, state: AnsiState): LogSpan[] {
  // A carriage return without a newline rewrites the line in a terminal: keep what was written last.
  const cr = text.lastIndexOf('\r');
  const visible = cr === -1 ? text : text.slice(cr + 1);
  // Styles before the last \r still apply to what follows, so run the escapes of the dropped part.
  if (cr !== -1) {
    for (const match of text.slice(0, cr).matchAll(ESCAPE)) {
      if (match[2] === 'm') applySgr(state, parseCodes(match[1]!));
    }
  }
  const spans: LogSpan[] = [];
  let last = 0;
  const push = (piece: string) => {
    if (piece === '') return;
    const classes = classesOf(state);
    const previous = spans.at(-1);
    if (previous && previous.classes === classes) previous.text += piece;
    else spans.push({ text: piece, classes });
  };
  for (const match of visible.matchAll(ESCAPE)) {
    push(visible.slice(last, match.index));
    if (match[2] === 'm') applySgr(state, parseCodes(match[1]!));
    last = match.index + match[0].length;
  }
  push(visible.slice(last));
  return spans;
}

function parseCodes(text: string): number[] {
  return text === '' ? [] : text.split(';').map((part) => Number.parseInt(part, 10) || 0);
}

// GitLab's markers: `\e[0Ksection_start:<unix time>:<name>[<options>]\r\e[0K<header>`.
const SECTION =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the markers carry ESC
  /^(?:\u001b\[0K)?section_(start|end):(\d+):([A-Za-z0-9_.-]+)(?:\[([^\]]*)\])?\r(?:\u001b\[0K)?(.*)$/;

/**
 * Parses complete log lines (the text up to, not including, a final `\n`) into {@link LogLine}s,
 * carrying `state` across lines. The runner's time prefixes (GitLab Runner's `FF_TIMESTAMPS`) are
 * taken off and kept as each line's `at`, and a `+` line is joined to the line it continues (see
 * `src/job-log/timestamp-prefix.ts`). GitLab's `section_start`/`section_end` markers become section
 * lines; `[collapsed=true]` after the name starts a section folded.
 */
export function parseLogLines(text: string, state: AnsiState): LogLine[] {
  if (text === '') return [];
  return parseLogicalLines(splitTimestampedLines(text), state);
}

/** {@link parseLogLines} for lines already split and joined by `splitTimestampedLines`. */
export function parseLogicalLines(lines: readonly LogicalLine[], state: AnsiState): LogLine[] {
  const out: LogLine[] = [];
  for (const logical of lines) {
    const raw = logical.text;
    const at = logical.time === null ? {} : { at: logical.time };
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const section = SECTION.exec(line);
    if (section) {
      const [, kind, time, name, options, rest] = section as unknown as [
        string,
        string,
        string,
        string,
        string?,
        string?,
      ];
      if (kind === 'start') {
        out.push({
          kind: 'section_start',
          name,
          time: Number(time),
          collapsed: /(^|,)collapsed=true(,|$)/.test(options ?? ''),
          spans: spansOf(rest ?? '', state),
          ...at,
        });
      } else {
        out.push({ kind: 'section_end', name, time: Number(time) });
        if (rest) out.push({ kind: 'line', spans: spansOf(rest, state), ...at });
      }
      continue;
    }
    out.push({ kind: 'line', spans: spansOf(line, state), ...at });
  }
  return out;
}
