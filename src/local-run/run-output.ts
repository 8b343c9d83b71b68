import type { Writable } from 'node:stream';

/** How a local run writes to the terminal. */
export interface RunOutputOptions {
  readonly stream: Writable & { isTTY?: boolean; columns?: number };
  /** Colours and the progress line; decided by {@link decideStyle}. */
  readonly fancy: boolean;
}

/**
 * Whether output gets colours and a progress line: only on a terminal, never with `NO_COLOR` set
 * (https://no-color.org, any non-empty value) or `TERM=dumb`; `FORCE_COLOR` (non-empty, not `0`)
 * turns them on for a pipe.
 */
export function decideStyle(
  stream: { isTTY?: boolean },
  env: Readonly<Record<string, string | undefined>> = process.env,
): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

const CODES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
} as const;

/** A colour name of {@link RunOutput.paint}. */
export type Colour = keyof typeof CODES;

// CSI and OSC sequences a job's own output may carry; plain output drops them.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal escapes is the point
const ESCAPES = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)/g;

/**
 * The terminal side of `tessera run`: plain lines, optional colours, and on a terminal one
 * progress line at the bottom that every other write clears first and redraws after.
 */
export class RunOutput {
  readonly #stream: RunOutputOptions['stream'];
  readonly fancy: boolean;
  #progress = '';

  constructor(options: RunOutputOptions) {
    this.#stream = options.stream;
    this.fancy = options.fancy;
  }

  /** `text` in `colour` when fancy, as is otherwise. */
  paint(colour: Colour, text: string): string {
    if (!this.fancy) return text;
    const [on, off] = CODES[colour];
    return `\u001b[${on}m${text}\u001b[${off}m`;
  }

  /** Writes whole lines (`text` should end with a newline), keeping the progress line below them. */
  write(text: string): void {
    if (text === '') return;
    const body = this.fancy ? text : text.replace(ESCAPES, '');
    if (this.#progress !== '') this.#stream.write(`\r\u001b[2K${body}${this.#progress}`);
    else this.#stream.write(body);
  }

  /** Writes one line. */
  line(text = ''): void {
    this.write(`${text}\n`);
  }

  /** Shows `text` as the progress line (terminal only; cut to the terminal's width). */
  progress(text: string): void {
    if (!this.fancy || !this.#stream.isTTY) return;
    const width = Math.max(20, (this.#stream.columns || 80) - 1);
    const next = this.paint('dim', text.length > width ? `${text.slice(0, width - 1)}…` : text);
    if (next === this.#progress) return;
    this.#stream.write(`\r\u001b[2K${next}`);
    this.#progress = next;
  }

  /** Removes the progress line for good (before the summary, or on exit). */
  clearProgress(): void {
    if (this.#progress === '') return;
    this.#stream.write('\r\u001b[2K');
    this.#progress = '';
  }
}
