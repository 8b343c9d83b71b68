import { RUNNER_STREAM, SCRIPT_STREAM } from '../job-log/timestamp-prefix.js';
import { LogTimestamper } from './log-timestamper.js';
import { MaskingLogSink } from './masking-log-sink.js';

/** Where a job's output comes from: the runner's own messages, or the script's stdout or stderr. */
export type JobLogStream = 'runner' | 'stdout' | 'stderr';

/** Options of {@link JobLog}. */
export interface JobLogOptions {
  /** The masked values known at the start. */
  readonly maskedValues: Iterable<string>;
  /** Receives the log (masked, prefixed when `timestamps`), in order. */
  readonly output: (bytes: Buffer) => void;
  /** Prefix every line with its time, as GitLab Runner's `FF_TIMESTAMPS`. */
  readonly timestamps: boolean;
  /** Time in epoch milliseconds (with a fraction), for the prefixes. */
  readonly clock?: () => number;
}

/**
 * A job's log: every byte masked (see {@link MaskingLogSink}), then, with `timestamps`, every line
 * prefixed with its time and stream (see {@link LogTimestamper}). The order is gitlab-runner's
 * (masker first, timestamper last): the masker sees the job's bytes as written, so a prefix can
 * never land inside a secret and split it past the masker.
 *
 * With timestamps each stream has its own masker and line buffer (stdout and stderr of one script
 * interleave by line, not inside a line); without, every stream shares one masker, as before.
 */
export class JobLog {
  readonly #sinks = new Map<JobLogStream, MaskingLogSink>();
  readonly #timestampers = new Map<JobLogStream, LogTimestamper>();
  readonly #shared: MaskingLogSink | undefined;

  constructor(options: JobLogOptions) {
    const values = [...options.maskedValues];
    if (!options.timestamps) {
      this.#shared = new MaskingLogSink(values, options.output);
      return;
    }
    const streams: Array<[JobLogStream, number, 'O' | 'E']> = [
      ['runner', RUNNER_STREAM, 'O'],
      ['stdout', SCRIPT_STREAM, 'O'],
      ['stderr', SCRIPT_STREAM, 'E'],
    ];
    for (const [name, stream, type] of streams) {
      const timestamper = new LogTimestamper({
        output: options.output,
        stream,
        type,
        ...(options.clock ? { clock: options.clock } : {}),
      });
      this.#timestampers.set(name, timestamper);
      this.#sinks.set(name, new MaskingLogSink(values, (bytes) => timestamper.write(bytes)));
    }
  }

  /** Writes bytes of one stream. */
  write(stream: JobLogStream, chunk: Buffer | string): void {
    (this.#shared ?? (this.#sinks.get(stream) as MaskingLogSink)).write(chunk);
  }

  /** Writes one line of the runner's own. */
  line(text: string): void {
    this.write('runner', `${text}\n`);
  }

  /** Adds masked values learned while the job runs (Vault secrets); they apply to every stream. */
  addValues(values: Iterable<string>): void {
    const list = [...values];
    if (this.#shared) this.#shared.addValues(list);
    for (const sink of this.#sinks.values()) sink.addValues(list);
  }

  /**
   * Ends a step's output: what the script's streams hold back goes out now, a last line without a
   * newline with one added (gitlab-runner closes a step's writers so), so that nothing the script
   * wrote lands after the runner's next messages.
   */
  endStep(): void {
    for (const name of ['stdout', 'stderr'] as const) {
      this.#sinks.get(name)?.flush();
      this.#timestampers.get(name)?.end();
    }
  }

  /** Flushes everything held back (masking complete values only). */
  end(): void {
    this.#shared?.end();
    for (const sink of this.#sinks.values()) sink.end();
    for (const timestamper of this.#timestampers.values()) timestamper.end();
  }
}

/**
 * Whether a job's log gets timestamps: its `FF_TIMESTAMPS` variable read as Go's
 * `strconv.ParseBool` (`1`, `t`, `T`, `TRUE`, `true`, `True` and the `0`/`f`/`false` forms), as
 * gitlab-runner reads feature flags; anything else (unset, empty, unparsable) leaves the default,
 * on (GitLab Runner 18.7 turned it on by default).
 */
export function timestampsEnabled(variables: ReadonlyArray<{ key: string; value: string }>): boolean {
  const value = variables.findLast((variable) => variable.key === 'FF_TIMESTAMPS')?.value;
  if (value === undefined) return true;
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return true;
}
