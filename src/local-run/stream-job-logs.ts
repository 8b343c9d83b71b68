import { stripTimestampPrefixes } from '../job-log/timestamp-prefix.js';
import type { PipelineRecord } from '../store/repositories/pipelines.js';
import { formatDuration, jobStatusLabel } from './job-status-label.js';
import type { JobView, PipelineView } from './pipeline-view.js';
import type { RunOutput } from './run-output.js';

/** Options of {@link streamJobLogs}. */
export interface StreamJobLogsOptions {
  readonly view: PipelineView;
  readonly pipelineId: number;
  readonly output: RunOutput;
  /** Only these jobs are shown (a `--job` selection); all when absent. */
  readonly selected?: ReadonlySet<string>;
  /** Manual jobs to play when they become `manual` (named with `--job`). */
  readonly play?: ReadonlySet<string>;
  /** Milliseconds between two looks at the pipeline; default 50. */
  readonly pollMs?: number;
  /**
   * Subscribes to "a job finished" (answers the unsubscribe): each such signal ends the wait for
   * the next look at once, so `pollMs` can be long without a finished job's log (or the pipeline's
   * end) waiting for it.
   */
  readonly onJobFinished?: (listener: () => void) => () => void;
  /** Stops following (Ctrl-C). */
  readonly signal?: AbortSignal;
  /** When the run started (ms), for the progress line. */
  readonly startedAt?: number;
}

/** How the pipeline ended, as {@link streamJobLogs} saw it last. */
export interface PipelineOutcome {
  readonly pipeline: PipelineRecord;
  /** The shown jobs in pipeline order. */
  readonly jobs: JobView[];
}

const FINISHED = new Set(['success', 'failed', 'canceled', 'skipped']);

interface Followed {
  id: number;
  /** Characters of the trace already written. */
  offset: number;
  headerShown: boolean;
  /** When (ms) the running job's trace is worth fetching again. */
  nextTraceAt: number;
}

/**
 * The trace API answers the whole log, so a running job's log is re-read at most this often
 * (and a long log less often); a finished job's is read at once.
 */
function traceInterval(length: number): number {
  return length > 1_000_000 ? 1000 : 200;
}

/**
 * Follows a pipeline to its end and writes each job's masked log (as the coordinator keeps it)
 * under a header with the job's name, then its status. Jobs run in parallel, but their logs are
 * never interleaved: the job that started first is streamed live, line by line; the others are
 * held back and written whole, each under its own header, when their turn comes. A terminal also
 * gets a progress line with what is running.
 *
 * The pipeline is over when its status is final, or nothing is pending or running any more
 * (a pipeline blocked on a manual job that nobody plays).
 */
export async function streamJobLogs(options: StreamJobLogsOptions): Promise<PipelineOutcome> {
  const { view, pipelineId, output } = options;
  const pollMs = options.pollMs ?? 50;
  const startedAt = options.startedAt ?? Date.now();
  const queue: Followed[] = [];
  const known = new Set<number>();
  const played = new Set<number>();
  // Jobs are created in pipeline order; a retry gets a later id but keeps its place.
  const place = new Map<string, number>();
  const inPipelineOrder = (jobs: JobView[]) =>
    jobs.sort((a, b) => (place.get(a.name) ?? a.id) - (place.get(b.name) ?? b.id));
  // A signal that comes while a look is under way is kept, so the wait after it is skipped.
  let changed = false;
  let wakeUp: (() => void) | undefined;
  const unsubscribe = options.onJobFinished?.(() => {
    changed = true;
    wakeUp?.();
  });
  try {
    for (;;) {
      changed = false;
      // Every attempt: one that failed and was retried between two looks still has its log shown.
      const attempts = (await view.jobs(pipelineId))
        .filter((job) => options.selected === undefined || options.selected.has(job.name))
        .sort((a, b) => a.id - b.id);
      const jobs = attempts.filter((job) => !job.retried);
      for (const job of jobs) if (!place.has(job.name)) place.set(job.name, job.id);
      let playedNow = false;
      for (const job of jobs) {
        if (job.status === 'manual' && options.play?.has(job.name) && !played.has(job.id)) {
          played.add(job.id);
          playedNow = true;
          await view.play(job.id);
        }
      }
      const started = attempts
        .filter((job) => job.startedAt !== null && !known.has(job.id))
        .sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0) || a.id - b.id);
      for (const job of started) {
        known.add(job.id);
        queue.push({ id: job.id, offset: 0, headerShown: false, nextTraceAt: 0 });
      }
      const byId = new Map(attempts.map((job) => [job.id, job]));
      while (queue.length > 0) {
        const head = queue[0] as Followed;
        const job = byId.get(head.id) as JobView;
        if (!head.headerShown) {
          output.line(output.paint('bold', output.paint('cyan', `== ${job.name} (stage ${job.stage})`)));
          head.headerShown = true;
        }
        const finished = FINISHED.has(job.status);
        if (!finished && Date.now() < head.nextTraceAt) break;
        const trace = await view.trace(head.id);
        head.nextTraceAt = Date.now() + traceInterval(trace.length);
        // Only whole lines while the job runs, so the progress line never splits one.
        const end = finished ? trace.length : trace.lastIndexOf('\n') + 1;
        if (end > head.offset) {
          // The terminal shows the text; the runner's time prefixes (FF_TIMESTAMPS) stay in the store.
          const text = stripTimestampPrefixes(trace.slice(head.offset, end));
          output.write(text.endsWith('\n') ? text : `${text}\n`);
          head.offset = end;
        }
        if (!finished) break;
        const label = jobStatusLabel(job);
        output.line(
          output.paint(label.colour, `== ${job.name}: ${label.text} in ${formatDuration(job.duration)}`),
        );
        output.line();
        queue.shift();
      }
      const active = jobs.some((job) => job.status === 'running' || job.status === 'pending');
      const waitingForPlay = jobs.some(
        (job) => job.status === 'manual' && options.play?.has(job.name) && !played.has(job.id),
      );
      // While a job is pending or running the pipeline is not over, so its status is read only when
      // none is (one request less on every look while jobs run). A job just played makes the
      // pipeline run again, whatever status was read before the play.
      const pipeline = active && !options.signal?.aborted ? undefined : await view.pipeline(pipelineId);
      const over =
        pipeline !== undefined &&
        !playedNow &&
        !waitingForPlay &&
        (FINISHED.has(pipeline.status) || !['pending', 'running'].includes(pipeline.status));
      if (over && queue.length === 0) {
        output.clearProgress();
        return { pipeline, jobs: inPipelineOrder(jobs) };
      }
      showProgress(output, jobs, startedAt);
      if (options.signal?.aborted) {
        output.clearProgress();
        return {
          pipeline: pipeline ?? (await view.pipeline(pipelineId)),
          jobs: inPipelineOrder(jobs),
        };
      }
      if (!changed)
        await sleep(pollMs, options.signal, (wake) => {
          wakeUp = wake;
        });
    }
  } finally {
    unsubscribe?.();
  }
}

function showProgress(output: RunOutput, jobs: readonly JobView[], startedAt: number): void {
  const done = jobs.filter((job) => FINISHED.has(job.status)).length;
  // A failure behind the job being streamed shows here at once, not only when its log's turn comes.
  const failed = jobs.filter((job) => job.status === 'failed' && !job.allowFailure).length;
  const running = jobs.filter((job) => job.status === 'running').map((job) => job.name);
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
  output.progress(
    `${done}/${jobs.length} jobs done${failed > 0 ? ` (${failed} failed)` : ''}${
      running.length > 0 ? ` · running: ${running.join(', ')}` : ''
    } · ${seconds}s`,
  );
}

/** Waits `ms`, or until `signal` aborts, or until the function handed to `setWake` is called. */
function sleep(
  ms: number,
  signal?: AbortSignal,
  setWake?: (wake: (() => void) | undefined) => void,
): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      setWake?.(undefined);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
    setWake?.(done);
  });
}
