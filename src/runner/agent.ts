import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as wait } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ArtifactStore } from '../artifacts/artifact-store.js';
import { isTesseraError } from '../errors.js';
import {
  CoordinatorClient,
  type JobStateUpdate,
  type JobUpdateAnswer,
  TransientCoordinatorError,
} from './coordinator-client.js';
import { executeJob, removeJobDirectories } from './execute-job.js';
import type { JobExecutor } from './executors/executor.js';
import type { JobOutcome, JobPayload } from './job-payload.js';
import { reapOrphanProcessGroups } from './orphan-process-groups.js';
import { TraceStream } from './trace-stream.js';

/** Options of {@link RunnerAgent}. */
export interface RunnerAgentOptions {
  /** The coordinator's base URL. */
  readonly url: string;
  /** The runner's authentication token (from `POST /api/v4/user/runners`). */
  readonly token: string;
  /** Root of the per-job build directories and the repository cache. */
  readonly buildsDir: string;
  /** Jobs run at once; default 1. */
  readonly concurrency?: number;
  /** Milliseconds between keepalive updates while a job runs; default 3000. */
  readonly keepaliveIntervalMs?: number;
  /** Minimum milliseconds between two trace appends of a job; default 250. */
  readonly traceIntervalMs?: number;
  /** Backoff bounds in milliseconds after a failed job request; default 500 and 30 000. */
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
  /** How long the final state of a job is retried, in milliseconds; default 15 minutes. */
  readonly finalStateRetryMs?: number;
  /** Milliseconds between SIGTERM and SIGKILL for a job's process group. */
  readonly killGraceMs?: number;
  /** Seconds `after_script` may run when the job names no timeout. */
  readonly afterScriptTimeout?: number;
  /** What runs the jobs; default the `shell` executor as the runner's own user. */
  readonly executor?: JobExecutor;
  /** See `executeJob`'s option of the same name; default true. */
  readonly recordProcessGroups?: boolean;
  /** The runner-local cache (`cache:`); default `<buildsDir>/.job-cache`. */
  readonly cacheDir?: string;
  /** A cache shared with other runners (`--cache-s3`), used instead of `cacheDir`. */
  readonly sharedCache?: ArtifactStore;
  /** Runner diagnostics (never a token). Default: nothing. */
  readonly log?: (message: string) => void;
  /**
   * Verify the URL and token at start (`POST /api/v4/runners/verify`); default true. An embedded
   * runner, which registered its token with the coordinator in the same process, skips it.
   */
  readonly verify?: boolean;
}

interface RunningJob {
  readonly id: number;
  readonly cancel: AbortController;
}

/** The `tessera` entry point, for the shim on every job's `PATH`. */
const TESSERA_BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));

/** The Tessera installation this runner runs from (a sandbox mounts its parts for `tessera id-token`). */
export const TESSERA_INSTALL_ROOT = dirname(dirname(TESSERA_BIN));

/** Waits `ms`, or less when `signal` aborts (a stopping runner does not wait out its backoff). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return wait(ms, undefined, signal ? { signal } : undefined).catch(() => undefined);
}

function jobIsOver(answer: JobUpdateAnswer): boolean {
  // `canceled`/`canceling` from the coordinator, or 403/404: the job is no longer ours to run.
  return (
    answer.jobStatus === 'canceled' ||
    answer.jobStatus === 'canceling' ||
    answer.httpStatus === 403 ||
    answer.httpStatus === 404
  );
}

/**
 * The runner's main loop: `concurrency` workers each long-poll the coordinator for a job and run
 * it with {@link executeJob}, streaming its masked log in chunks, sending a keepalive every few
 * seconds, killing the job when the coordinator says it was cancelled, and reporting the final
 * state with retries until the coordinator has it. Network errors and coordinator restarts are
 * ridden out with exponential backoff (with jitter), so the runner never needs a restart itself.
 */
export class RunnerAgent {
  readonly #options: RunnerAgentOptions;
  readonly #client: CoordinatorClient;
  readonly #stopPolling = new AbortController();
  readonly #running = new Map<number, RunningJob>();
  #workers: Promise<void>[] = [];
  #toolsDir: string | undefined;
  #stopReason: 'graceful' | 'abort' | undefined;
  #abortedAt = Number.POSITIVE_INFINITY;

  constructor(options: RunnerAgentOptions) {
    this.#options = options;
    this.#client = new CoordinatorClient({ url: options.url, token: options.token });
  }

  /** Jobs currently running, by id. */
  get runningJobs(): number[] {
    return [...this.#running.keys()];
  }

  #log(message: string): void {
    this.#options.log?.(message);
  }

  /**
   * Ends what a previous runner on the builds directory left running, verifies the coordinator URL
   * and the runner token (unless `verify` is false), then starts the workers; resolves once they
   * are polling. An unreachable or failing coordinator is retried with
   * the job requests' backoff until it answers or {@link stop} is called.
   *
   * @throws TesseraError `ERR_RUNNER_TOKEN_REFUSED` or `ERR_RUNNER_URL_INVALID`: a refused token or
   *   a URL that is not a coordinator's, which no retry would mend.
   */
  async start(): Promise<void> {
    if (this.#workers.length > 0) throw new TypeError('RunnerAgent already started');
    const buildsDir = resolve(this.#options.buildsDir);
    await mkdir(buildsDir, { recursive: true });
    this.#toolsDir = await this.#writeTesseraShim(buildsDir);
    const orphans = await reapOrphanProcessGroups(buildsDir);
    if (orphans > 0)
      this.#log(`killed ${orphans} process group(s) left running by a previous runner process`);
    const leftovers = (await this.#options.executor?.removeLeftovers?.(buildsDir)) ?? 0;
    if (leftovers > 0)
      this.#log(`removed ${leftovers} container(s) and network(s) left by a previous runner process`);
    // After the clean-up: what an earlier runner left running is ended whether or not the
    // coordinator answers now.
    if (this.#options.verify !== false) await this.#verify();
    const concurrency = Math.max(1, Math.floor(this.#options.concurrency ?? 1));
    for (let index = 0; index < concurrency; index += 1) this.#workers.push(this.#work(index));
  }

  /**
   * Stops polling. `graceful` waits for running jobs to finish; `abort` cancels them (their
   * process groups are killed) and reports them failed with `runner_system_failure`. Either way
   * it resolves after every final state was sent (or its retries ran out).
   */
  async stop(mode: 'graceful' | 'abort' = 'abort'): Promise<void> {
    this.#stopReason ??= mode;
    if (mode === 'abort') {
      if (this.#abortedAt === Number.POSITIVE_INFINITY) this.#abortedAt = Date.now();
      this.#stopReason = 'abort';
    }
    this.#stopPolling.abort();
    if (mode === 'abort') for (const job of this.#running.values()) job.cancel.abort();
    await Promise.all(this.#workers);
  }

  /** Resolves when every worker has ended (after {@link stop}). */
  async done(): Promise<void> {
    await Promise.all(this.#workers);
  }

  async #writeTesseraShim(buildsDir: string): Promise<string> {
    // Jobs call `tessera id-token`; their PATH is minimal, so the runner provides the command.
    const dir = join(buildsDir, '.tessera-bin');
    await mkdir(dir, { recursive: true });
    const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;
    await writeFile(
      join(dir, 'tessera'),
      `#!/bin/sh\nexec ${quote(process.execPath)} ${quote(TESSERA_BIN)} "$@"\n`,
      {
        mode: 0o755,
      },
    );
    return dir;
  }

  /** Milliseconds to wait after the `failures`-th failure in a row: exponential, with jitter. */
  #backoff(failures: number): number {
    const min = this.#options.backoffMinMs ?? 500;
    const max = this.#options.backoffMaxMs ?? 30_000;
    const delay = Math.min(max, min * 2 ** Math.min(failures - 1, 16));
    return Math.round(delay / 2 + Math.random() * (delay / 2));
  }

  async #verify(): Promise<void> {
    let failures = 0;
    while (!this.#stopPolling.signal.aborted) {
      try {
        await this.#client.verifyRunner(this.#stopPolling.signal);
        return;
      } catch (error) {
        if (this.#stopPolling.signal.aborted) return;
        if (!(error instanceof TransientCoordinatorError)) throw error;
        failures += 1;
        const delay = this.#backoff(failures);
        this.#log(`verifying the runner failed (${error.message}); retrying in ${delay} ms`);
        await sleep(delay, this.#stopPolling.signal);
      }
    }
  }

  async #work(worker: number): Promise<void> {
    let failures = 0;
    while (!this.#stopPolling.signal.aborted) {
      let job: JobPayload | undefined;
      try {
        job = await this.#client.requestJob(this.#stopPolling.signal);
        failures = 0;
      } catch (error) {
        if (this.#stopPolling.signal.aborted) break;
        failures += 1;
        const jittered = this.#backoff(failures);
        this.#log(
          `worker ${worker}: job request failed (${isTesseraError(error) ? error.code : ''} ${
            error instanceof Error ? error.message : 'unknown'
          }); retrying in ${jittered} ms`,
        );
        await sleep(jittered, this.#stopPolling.signal);
        continue;
      }
      if (job === undefined) continue;
      try {
        await this.#runJob(job);
      } catch (error) {
        // A fault of the runner itself must not take this worker (a slot of --concurrency) down.
        this.#running.delete(job.id);
        this.#log(`job ${job.id}: runner failure: ${error instanceof Error ? error.message : 'unknown'}`);
      }
    }
  }

  async #runJob(job: JobPayload): Promise<void> {
    const cancel = new AbortController();
    this.#running.set(job.id, { id: job.id, cancel });
    // A job that arrived while an aborting stop was under way is not started for real.
    if (this.#stopReason === 'abort') cancel.abort();
    this.#log(`job ${job.id}: started`);
    const watchAnswer = (answer: JobUpdateAnswer) => {
      if (jobIsOver(answer) && !cancel.signal.aborted) {
        this.#log(
          `job ${job.id}: the coordinator ended it (${answer.jobStatus ?? `HTTP ${answer.httpStatus}`}); killing it`,
        );
        cancel.abort();
      }
    };
    const trace = new TraceStream({
      send: (start, bytes) => this.#client.appendTrace(job.id, job.token, start, bytes),
      onAnswer: watchAnswer,
      intervalMs: this.#options.traceIntervalMs,
    });
    // The coordinator keeps the log as text: invalid UTF-8 (binary output) becomes U+FFFD here, once,
    // so that byte offsets agree on both sides; a character split across writes is reassembled.
    const utf8 = new StringDecoder('utf8');
    const keepaliveEvery = this.#options.keepaliveIntervalMs ?? 3000;
    const keepalive = setInterval(() => {
      this.#client
        .updateJob(job.id, job.token, { state: 'running' })
        .then(watchAnswer)
        .catch(() => undefined);
    }, keepaliveEvery);

    let outcome: JobOutcome;
    try {
      outcome = await executeJob({
        job,
        buildsDir: this.#options.buildsDir,
        onLog: (bytes) => trace.write(Buffer.from(utf8.write(bytes))),
        signal: cancel.signal,
        extraPath: this.#toolsDir ? [this.#toolsDir] : [],
        killGraceMs: this.#options.killGraceMs,
        afterScriptTimeout: this.#options.afterScriptTimeout,
        ...(this.#options.executor ? { executor: this.#options.executor } : {}),
        ...(this.#options.recordProcessGroups === false ? { recordProcessGroups: false } : {}),
        // Removed below once the job is reported: the next stage's jobs do not wait for it.
        keepBuildDir: true,
        jobFiles: {
          coordinatorUrl: this.#options.url,
          cacheDir: resolve(this.#options.cacheDir ?? join(this.#options.buildsDir, '.job-cache')),
          ...(this.#options.sharedCache ? { sharedCache: this.#options.sharedCache } : {}),
        },
      });
    } catch (error) {
      // executeJob handles everything a job can cause; this is a fault of the runner itself.
      this.#log(`job ${job.id}: runner failure: ${error instanceof Error ? error.message : 'unknown'}`);
      trace.write(
        Buffer.from('ERROR: Job failed (system failure): the runner failed while running the job\n'),
      );
      outcome = { state: 'failed', failureReason: 'runner_system_failure' };
    } finally {
      clearInterval(keepalive);
    }

    const tail = utf8.end();
    if (tail !== '') trace.write(Buffer.from(tail));
    const retryUntil = Date.now() + (this.#options.finalStateRetryMs ?? 15 * 60_000);
    let update: JobStateUpdate;
    if (outcome.state === 'success') update = { state: 'success' };
    else if (outcome.state === 'canceled' && this.#stopReason === 'abort') {
      update = { state: 'failed', failureReason: 'runner_system_failure' };
    } else if (outcome.state === 'canceled') {
      // The coordinator cancelled the job and keeps it `canceled`; this report only closes the loop
      // (GitLab has no runner-side failure reason for a cancel).
      update = { state: 'failed', failureReason: 'unknown_failure' };
    } else {
      update = {
        state: 'failed',
        failureReason: outcome.failureReason ?? 'unknown_failure',
        ...(outcome.exitCode === undefined ? {} : { exitCode: outcome.exitCode }),
      };
    }
    await this.#sendFinalState(job, update, retryUntil, trace);
    trace.close();
    await removeJobDirectories(this.#options.buildsDir, job.id);
    this.#running.delete(job.id);
    this.#log(`job ${job.id}: ${update.state}${update.failureReason ? ` (${update.failureReason})` : ''}`);
  }

  /**
   * When to stop retrying a job's log and final state: `retryUntil`, or 30 s after an aborting
   * stop, so that a runner told to stop does not hang on a coordinator that is down (the lease
   * expiry then reports the job).
   */
  #retryDeadline(retryUntil: number): number {
    return this.#stopReason === 'abort' ? Math.min(retryUntil, this.#abortedAt + 30_000) : retryUntil;
  }

  /**
   * Sends the job's final state, with the log's unsent last part in the same request when it fits
   * in one (a request fewer per job). A part the coordinator does not take is sent on its own: after
   * a 416 (the coordinator has another length; the job is still running there) before the state
   * goes again, otherwise (the job had ended there already) as the late lines the coordinator keeps.
   */
  async #sendFinalState(
    job: JobPayload,
    update: JobStateUpdate,
    retryUntil: number,
    trace: TraceStream,
  ): Promise<void> {
    const deadline = () => this.#retryDeadline(retryUntil);
    let tail = await trace.takeTail();
    if (tail === undefined) await trace.flush(deadline);
    else if (tail.bytes.length === 0) tail = undefined;
    let attempt = 0;
    while (true) {
      try {
        const answer = await this.#client.updateJob(job.id, job.token, update, tail);
        if (tail !== undefined) {
          const end = tail.start + tail.bytes.length;
          if (answer.remoteLength === end) trace.acknowledge(end);
          else {
            tail = undefined;
            await trace.flush(deadline);
            if (answer.httpStatus === 416) continue;
          }
        }
        // Any definite answer ends it: 200 accepted, 403/404/409 the coordinator already finished the job.
        if (answer.httpStatus < 500) return;
      } catch (error) {
        this.#log(
          `job ${job.id}: final state not sent (${error instanceof Error ? error.message : 'unknown'}); retrying`,
        );
      }
      attempt += 1;
      if (Date.now() >= this.#retryDeadline(retryUntil)) {
        this.#log(`job ${job.id}: giving up sending the final state; the coordinator's lease will expire it`);
        return;
      }
      await sleep(Math.min(10_000, 250 * 2 ** Math.min(attempt, 6)));
    }
  }
}
