import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Coordinator } from '../coordinator/coordinator.js';
import { isTesseraError, TesseraError } from '../errors.js';
import type { PlannedJob } from '../pipeline/plan.js';
import type { JobExecutor } from '../runner/executors/executor.js';
import type { PipelineRecord } from '../store/repositories/pipelines.js';
import { createLocalPipeline } from './create-local-pipeline.js';
import { keepArtifacts } from './keep-artifacts.js';
import { PipelineView } from './pipeline-view.js';
import { registerProject } from './register-project.js';
import type { RunOutput } from './run-output.js';
import { narrowPipeline } from './select-jobs.js';
import { type EmbeddedInstance, startEmbedded } from './start-embedded.js';
import { streamJobLogs } from './stream-job-logs.js';
import { summaryTable } from './summary-table.js';
import { inspectWorkingCopy } from './working-copy.js';

/** Options of {@link runLocalPipeline}. */
export interface LocalRunOptions {
  /** The working copy (any directory inside it). */
  readonly dir: string;
  /** Branch or tag to run; default the branch checked out at HEAD. */
  readonly ref?: string;
  /** Pipeline variables (`--var`). */
  readonly variables?: Readonly<Record<string, string>>;
  /** Run only these jobs and what they need (`--job`). */
  readonly jobs?: readonly string[];
  /** Jobs the embedded runner runs at once. */
  readonly concurrency: number;
  /** What runs the jobs; default the `shell` executor. */
  readonly executor?: JobExecutor;
  readonly output: RunOutput;
  /** Where warnings and the `CODE: message` of a refusal go (default stderr). */
  readonly diagnostic?: (line: string) => void;
  /** Told the temporary directory as soon as it exists (for a last-resort synchronous removal). */
  readonly onTempDir?: (path: string) => void;
  /** Aborted on Ctrl-C: running jobs are killed and everything is cleaned up. */
  readonly signal?: AbortSignal;
  /** Where the jobs' artifacts are left (`--artifacts-dir`); default a new folder in the temp directory. */
  readonly artifactsDir?: string;
}

/**
 * Exit status of a local run: 0 the pipeline succeeded, 1 it failed (or its configuration is
 * invalid, or it was interrupted), 2 it could not start (not a repository, no commit, unknown
 * ref or job, no `.gitlab-ci.yml` in the commit).
 */
export type LocalRunExit = 0 | 1 | 2;

/** Codes that mean "called wrong or nothing to run": exit status 2. */
const CANNOT_START = new Set<string>([
  'ERR_LOCAL_RUN_NOT_A_REPOSITORY',
  'ERR_LOCAL_RUN_NO_REF',
  'ERR_LOCAL_RUN_JOB_NOT_FOUND',
  'ERR_LOCAL_RUN_VARIABLE_INVALID',
  'ERR_GIT_REF_NOT_FOUND',
  'ERR_GIT_CONFIG_NOT_FOUND',
]);

/**
 * `tessera run`: runs a working copy's pipeline on an embedded coordinator and runner (loopback,
 * port 0, temporary SQLite store, real keys and tokens, live discovery at `CI_SERVER_URL`),
 * streams each job's masked log and prints a summary table. Everything it started is stopped and
 * its temporary directory removed before it returns, also on error or abort.
 */
export async function runLocalPipeline(options: LocalRunOptions): Promise<LocalRunExit> {
  const { output } = options;
  const diagnostic = options.diagnostic ?? ((line: string) => process.stderr.write(`${line}\n`));
  const began = Date.now();
  let instance: EmbeddedInstance | undefined;
  try {
    // The coordinator starts (keys, store) while git looks at the working copy.
    const starting = startEmbedded();
    starting.then((started) => options.onTempDir?.(started.tempDir)).catch(() => undefined);
    const workingCopy = await inspectWorkingCopy(options.dir, options.ref).catch(async (error: unknown) => {
      await (await starting.catch(() => undefined))?.close();
      throw error;
    });
    if (workingCopy.dirty && workingCopy.refIsHead) {
      diagnostic(
        `warning: uncommitted changes are not part of this run; it runs the committed HEAD (${workingCopy.headSha.slice(0, 8)})`,
      );
    }
    instance = await starting;
    const { server } = instance;
    // The project's repository is the working copy: the coordinator's and the runner's caches
    // borrow its objects while the project is registered, off the pipeline's and the first jobs' path.
    instance.warmRepositoryCaches(workingCopy.root, workingCopy.objectsDir, workingCopy.headSha);
    // The runner's troubles (a failed job request, a final state not delivered) are worth a line;
    // its routine ("job 3: started") is what the log already shows.
    const startRunner = () =>
      (instance as EmbeddedInstance).startRunner(options.concurrency, options.executor, (message) => {
        if (/request failed|runner failure|giving up|not sent/.test(message)) {
          output.clearProgress();
          diagnostic(`runner: ${message}`);
        }
      });
    // Without --job the runner starts now: its registration and first job request overlap the
    // pipeline's creation, and the coordinator wakes it as soon as the first jobs are pending. A
    // --job selection must narrow the pipeline before any runner sees a job, so it starts after.
    const narrowing = options.jobs !== undefined && options.jobs.length > 0;
    const runnerStarted = narrowing ? undefined : startRunner();
    // Awaited below, or by close(): a failure surfaces there, not as an unhandled rejection.
    runnerStarted?.catch(() => undefined);
    const local = await registerProject(server.coordinator, workingCopy);
    let pipeline: PipelineRecord;
    try {
      pipeline = await createLocalPipeline(server.coordinator, local, {
        ref: workingCopy.ref,
        variables: options.variables ?? {},
        // The branch at HEAD is known already; a --ref is resolved by the coordinator.
        ...(workingCopy.refIsHead
          ? {
              resolvedRef: {
                name: workingCopy.ref,
                type: 'branch',
                fullRef: `refs/heads/${workingCopy.ref}`,
                sha: workingCopy.headSha,
              },
            }
          : {}),
      });
    } catch (error) {
      if (
        isTesseraError(error) &&
        error.code === 'ERR_GIT_CONFIG_NOT_FOUND' &&
        existsSync(join(workingCopy.root, '.gitlab-ci.yml'))
      ) {
        throw new TesseraError(
          'ERR_GIT_CONFIG_NOT_FOUND',
          `${error.message}: commit it first (the pipeline runs the committed ${workingCopy.ref})`,
        );
      }
      throw error;
    }
    // Keys are made when first needed; jobs that mint ID tokens at their start should not wait for
    // an RSA key, so their pipeline has it made now, while the runner starts.
    if (await declaresIdTokens(server.coordinator, pipeline.id)) {
      server.coordinator.keyring.algorithms().catch(() => undefined);
    }
    let selected: Set<string> | undefined;
    if (narrowing) selected = await narrowPipeline(server.coordinator, pipeline.id, options.jobs ?? []);
    output.line(
      output.paint(
        'bold',
        `Pipeline #${pipeline.id} for ${pipeline.ref} at ${pipeline.sha.slice(0, 8)} (${local.project.pathWithNamespace})`,
      ),
    );
    output.line(`CI_SERVER_URL and issuer: ${server.issuer} (discovery and JWKS live while the run lasts)`);
    for (const warning of pipeline.warnings) diagnostic(`warning: ${warning}`);
    output.line();
    if (options.signal?.aborted) return 1;
    await (runnerStarted ?? startRunner());
    const outcome = await streamJobLogs({
      view: new PipelineView(server.coordinator, local.project, local.user),
      pipelineId: pipeline.id,
      output,
      ...(selected ? { selected, play: selected } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      startedAt: began,
      // Woken by the coordinator when a job finishes; otherwise a look every 200 ms (as often as a
      // running job's log is read anyway) instead of a busy 50 ms poll competing with the jobs.
      pollMs: 200,
      onJobFinished: (listener) => {
        server.coordinator.events.on('job-finished', listener);
        return () => server.coordinator.events.off('job-finished', listener);
      },
    });
    if (options.signal?.aborted) {
      output.line(output.paint('red', 'Interrupted: running jobs were stopped.'));
      return 1;
    }
    output.write(summaryTable(outcome.jobs, output));
    const kept = await keepArtifacts(server.coordinator, pipeline.id, options.artifactsDir);
    if (kept !== undefined) output.line(`Artifacts of ${kept.jobs.join(', ')}: ${kept.dir}`);
    const seconds = ((Date.now() - began) / 1000).toFixed(1);
    const status = outcome.pipeline.status;
    output.line();
    if (status === 'success') {
      output.line(output.paint('green', `Pipeline #${pipeline.id} passed in ${seconds}s`));
      return 0;
    }
    const why =
      status === 'manual' || status === 'created'
        ? 'is blocked by a manual job (name it with --job to run it)'
        : status;
    output.line(output.paint('red', `Pipeline #${pipeline.id} ${why} after ${seconds}s`));
    return 1;
  } catch (error) {
    output.clearProgress();
    if (!isTesseraError(error)) throw error;
    diagnostic(`${error.code}: ${error.message}`);
    const problems = error.details?.errors;
    if (Array.isArray(problems)) {
      for (const problem of problems as Array<{ path?: string; message?: string; line?: number | null }>) {
        diagnostic(
          `  ${problem.path ?? ''}: ${problem.message ?? ''}${problem.line ? ` (line ${problem.line})` : ''}`,
        );
      }
    }
    return CANNOT_START.has(error.code) ? 2 : 1;
  } finally {
    await instance?.close();
  }
}

/** Whether a job of the pipeline declares `id_tokens` (minted when the job starts). */
async function declaresIdTokens(coordinator: Coordinator, pipelineId: number): Promise<boolean> {
  const jobs = await coordinator.repos.jobs.listByPipeline<PlannedJob>(pipelineId);
  return jobs.some((job) => Object.keys(job.spec.idTokens).length > 0);
}
