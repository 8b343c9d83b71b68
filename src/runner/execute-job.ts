import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isTesseraError } from '../errors.js';
import { JobFilesError, type JobFilesOptions, restoreJobFiles, saveJobFiles } from './artifacts/job-files.js';
import { checkout, prepareCheckout, shellCheckout, shellCheckoutFailure } from './checkout.js';
import { ExecutorPreparationError, type ExecutorSession, type JobExecutor } from './executors/executor.js';
import { shellExecutor } from './executors/shell-executor.js';
import { buildJobEnvironment } from './job-environment.js';
import { JobLog, timestampsEnabled } from './job-log.js';
import type { JobOutcome, JobPayload, JobStep } from './job-payload.js';
import { allowTraverse, giveToJobUser } from './job-user.js';
import type { JobVariable } from './job-variable.js';
import { forgetProcessGroup, recordProcessGroup } from './orphan-process-groups.js';
import { giveTempDirToJobUser, preGetSourcesCommands, runPreGetSourcesHook } from './pre-get-sources-hook.js';
import { type RunProcessResult, runProcess } from './run-process.js';
import { writeScriptFile } from './script-file.js';
import { resolveVaultSecrets } from './vault-secrets.js';

/** The runner's version, shown in the first line of every job log. */
export const RUNNER_VERSION = '0.1.0';

/** Seconds `after_script` may run when its step names no timeout (GitLab's default). */
export const DEFAULT_AFTER_SCRIPT_TIMEOUT = 300;

/** Where a runner with builds in `buildsDir` keeps its bare-repository caches by default. */
export function repositoryCacheDir(buildsDir: string): string {
  return join(resolve(buildsDir), '.cache');
}

/** Options of {@link executeJob}. */
export interface ExecuteJobOptions {
  readonly job: JobPayload;
  /** Root of the per-job build directories. */
  readonly buildsDir: string;
  /** Bare-repository cache; default `<buildsDir>/.cache` ({@link repositoryCacheDir}). */
  readonly cacheDir?: string;
  /** Receives the job log, already masked, in order. */
  readonly onLog: (bytes: Buffer) => void;
  /** Aborting cancels the job: its processes are killed and it ends `canceled`. */
  readonly signal?: AbortSignal;
  /** Directories put first on the job's `PATH` (where the `tessera` command is). */
  readonly extraPath?: readonly string[];
  /** Job timeout in seconds when the payload names none; default 3600. */
  readonly defaultTimeout?: number;
  /** Seconds for `after_script` when its step names none; default {@link DEFAULT_AFTER_SCRIPT_TIMEOUT}. */
  readonly afterScriptTimeout?: number;
  /** Milliseconds between SIGTERM and SIGKILL. */
  readonly killGraceMs?: number;
  /** What runs the job's steps; default the `shell` executor as the runner's own user. */
  readonly executor?: JobExecutor;
  /**
   * Leave the build directories for the caller to remove with {@link removeJobDirectories} (the
   * runner does, after it has reported the job, so the next stage need not wait); default false.
   */
  readonly keepBuildDir?: boolean;
  /**
   * Record each job process group under the builds directory, so that a runner started after this
   * one was killed ends what it left running ({@link recordProcessGroup}); default true. `tessera
   * run` turns it off: its builds directory is a temporary one that no later runner looks at.
   */
  readonly recordProcessGroups?: boolean;
  /** Line prefix of the runner's own messages (`Running with …`). */
  readonly runnerDescription?: string;
  /** Clock in milliseconds. */
  readonly clock?: () => number;
  /** Artifacts and cache (coordinator URL, runner-local cache); without it the job has neither. */
  readonly jobFiles?: JobFilesOptions;
}

/**
 * Reads a duration as gitlab-runner's variables take it: seconds (`90`) or Go's notation (`10m`,
 * `1h30m`, `45s`). Undefined for anything else or for zero.
 */
export function parseGoDuration(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) || undefined;
  if (!/^(\d+(\.\d+)?(h|m|s))+$/.test(trimmed)) return undefined;
  let seconds = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)(h|m|s)/g)) {
    seconds += Number(amount) * (unit === 'h' ? 3600 : unit === 'm' ? 60 : 1);
  }
  return seconds > 0 ? Math.ceil(seconds) : undefined;
}

function stepNamed(job: JobPayload, name: string): JobStep | undefined {
  return job.steps.find((step) => step.name === name);
}

function safeSegment(text: string | undefined, fallback: string): string {
  const cleaned = (text ?? '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '');
  return cleaned === '' ? fallback : cleaned.slice(0, 100);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : 'unexpected failure';
}

/**
 * Runs one job from start to end with its executor: checks out the commit into a fresh
 * build directory, resolves Vault `secrets:`, runs the `script` step (before_script + script) under
 * the job's timeout, then the `after_script` step (also after a failure, a timeout or a cancel)
 * under its own short timeout, and returns the final state and GitLab failure reason. Every byte of
 * the log passes through a {@link JobLog} (masked, then prefixed with its time unless the job's
 * `FF_TIMESTAMPS` is false); the build directory is removed at the end.
 *
 * It never throws for anything a job or its environment can cause: those end as a failed outcome.
 */
export async function executeJob(options: ExecuteJobOptions): Promise<JobOutcome> {
  const { job } = options;
  const executor = options.executor ?? shellExecutor();
  const jobUser = executor.jobUser;
  const clock = options.clock ?? Date.now;
  const startedAt = clock();
  const maskedFromPayload = [job.token, ...job.variables.filter((v) => v.masked).map((v) => v.value)];
  const sink = new JobLog({
    maskedValues: maskedFromPayload,
    output: options.onLog,
    timestamps: timestampsEnabled(job.variables),
  });
  const line = (text: string) => sink.line(text);

  const scriptStep = stepNamed(job, 'script');
  const afterStep = stepNamed(job, 'after_script');
  const timeoutSeconds = job.runner_info?.timeout ?? scriptStep?.timeout ?? options.defaultTimeout ?? 3600;
  const deadline = startedAt + timeoutSeconds * 1000;
  const buildsDir = resolve(options.buildsDir);
  const cacheDir = resolve(options.cacheDir ?? repositoryCacheDir(buildsDir));
  const { jobRoot, jobTempDir } = jobDirectories(buildsDir, job.id);
  const projectDir = join(jobRoot, safeSegment(job.job_info?.project_name, 'project'));
  const cancel = options.signal;
  // The script's and after_script's process groups, recorded for a later runner (see recordProcessGroups).
  const recording = options.recordProcessGroups !== false;
  const recordGroup = (step: string) => (pgid: number) => {
    if (recording) recordProcessGroup(buildsDir, `${job.id}-${step}`, pgid);
  };
  const forgetGroup = (step: string) =>
    recording ? forgetProcessGroup(buildsDir, `${job.id}-${step}`).catch(() => undefined) : undefined;
  const timeoutSignal = AbortSignal.timeout(Math.max(1, deadline - clock()));
  const jobSignal = cancel ? AbortSignal.any([cancel, timeoutSignal]) : timeoutSignal;

  // Which limit ended a preparation step, if any.
  const interrupted = (): JobOutcome | undefined => {
    if (cancel?.aborted) return { state: 'canceled', failureReason: 'canceled' };
    if (timeoutSignal.aborted || clock() >= deadline)
      return { state: 'failed', failureReason: 'job_execution_timeout' };
    return undefined;
  };

  line(
    `Running with tessera runner ${RUNNER_VERSION}${options.runnerDescription ? ` ${options.runnerDescription}` : ''}`,
  );
  line(`Preparing the "${executor.name}" executor`);
  for (const text of executor.describe(job)) line(text);

  let outcome: JobOutcome | undefined;
  let variables: JobVariable[] = [...job.variables];
  let environment: Awaited<ReturnType<typeof buildJobEnvironment>> | undefined;
  let session: ExecutorSession | undefined;
  const checkoutOptions = {
    repoUrl: job.git_info.repo_url,
    sha: job.git_info.sha,
    ref: job.git_info.ref,
    cacheDir,
    projectDir,
    onLog: line,
    signal: jobSignal,
  };
  // Without a job user the job's shell runs the final `git checkout` itself (one process fewer
  // started by the runner). A job user's shell may not write the checkout the runner prepared as
  // itself, and a container's image may have no git, so then the runner checks out.
  const checkoutFiles = {
    logFile: join(jobTempDir, 'checkout.log'),
    failedMarker: join(jobTempDir, 'checkout-failed'),
  };
  let checkoutInShell: string | undefined;
  let checkedOut = false;
  const hookCommands = preGetSourcesCommands(job);
  // Vault secrets and the environment; before the checkout when a hook needs them.
  const prepareEnvironment = async () => {
    if (job.secrets && Object.keys(job.secrets).length > 0) {
      line('Resolving secrets');
      const secrets = await resolveVaultSecrets({
        secrets: job.secrets,
        variables,
        onLog: line,
        signal: jobSignal,
      });
      sink.addValues(secrets.map((secret) => secret.value));
      variables = [...variables, ...secrets];
    }
    const built = await buildJobEnvironment({
      variables,
      projectDir,
      buildsDir,
      jobTempDir,
      extraPath: options.extraPath,
      ...(executor.jobView ? { view: executor.jobView({ job, buildsDir, projectDir, jobTempDir }) } : {}),
    });
    sink.addValues(built.maskedValues);
    return built;
  };
  const workspace = {
    job,
    buildsDir,
    jobRoot,
    jobTempDir,
    projectDir,
    toolDirs: options.extraPath ?? [],
    log: line,
    signal: jobSignal,
  };
  try {
    await mkdir(buildsDir, { recursive: true });
    if (hookCommands.length > 0) environment = await prepareEnvironment();
    line('Getting source from Git repository');
    if (environment !== undefined) {
      // GitLab Runner runs hooks:pre_get_sources_script first in its get_sources stage; a failing
      // hook fails that stage, so nothing of the job's script runs.
      const result = await runPreGetSourcesHook({
        commands: hookCommands,
        executor,
        workspace,
        env: environment.env,
        log: sink,
        timeoutMs: Math.max(0, deadline - clock()),
        signal: cancel,
        killGraceMs: options.killGraceMs,
        onSpawn: recordGroup('hook'),
      }).finally(() => forgetGroup('hook'));
      const hookOutcome = stepOutcome(result);
      if (hookOutcome.state !== 'success') throw new HookFailure(hookOutcome);
    }
    if (jobUser || executor.checksOutOnHost) await checkout(checkoutOptions);
    else checkoutInShell = await prepareCheckout(checkoutOptions);
    checkedOut = true;

    environment ??= await prepareEnvironment();
    if (options.jobFiles) {
      await restoreJobFiles({
        ...options.jobFiles,
        job,
        projectDir,
        jobTempDir,
        log: line,
        signal: jobSignal,
      });
    }
    // Both scripts are written before any job process runs: afterwards the job could have put a
    // link where a file is written (the runner may be root, or see what the job must not). A
    // hook ran before, but where it could write, the runner writes nothing (runPreGetSourcesHook).
    await writeScriptFile(
      join(jobTempDir, 'script.sh'),
      scriptStep?.script ?? [],
      checkoutInShell === undefined ? undefined : shellCheckout(checkoutInShell, checkoutFiles),
    );
    if (afterStep?.script.some((c) => c.trim() !== '')) {
      await writeScriptFile(join(jobTempDir, 'after_script.sh'), afterStep.script);
    }
    if (jobUser) {
      await allowTraverse(buildsDir);
      await giveToJobUser(jobRoot, jobUser);
      if (hookCommands.length > 0) await giveTempDirToJobUser(jobTempDir, jobUser);
      else await giveToJobUser(jobTempDir, jobUser);
    }
    session = await executor.open(workspace);
  } catch (error) {
    outcome = error instanceof HookFailure ? error.outcome : interrupted();
    // No checkout to take cache or artifacts from (a hook's environment was built before it).
    if (!checkedOut) environment = undefined;
    if (outcome === undefined && error instanceof ExecutorPreparationError) {
      line(`ERROR: Job failed: ${error.message}`);
      // A coordinator that lists its failure reasons gets the older, wider one for a reason it lacks.
      const accepted = job.features?.failure_reasons;
      const failureReason =
        accepted === undefined || accepted.includes(error.failureReason)
          ? error.failureReason
          : 'runner_system_failure';
      outcome = { state: 'failed', failureReason };
    } else if (outcome === undefined) {
      const what =
        isTesseraError(error) && error.code.startsWith('ERR_RUNNER_SECRET')
          ? 'resolving secrets'
          : 'preparing';
      if (error instanceof JobFilesError) {
        line(error.message);
        outcome = { state: 'failed', failureReason: 'unknown_failure' };
      } else {
        line(`ERROR: Job failed (system failure): ${what}: ${errorText(error)}`);
        outcome = { state: 'failed', failureReason: 'runner_system_failure' };
      }
    }
  }

  let status: JobOutcome = outcome ?? { state: 'success' };
  if (outcome === undefined && environment !== undefined && session !== undefined) {
    line('Executing "step_script" stage of the job script');
    const result = await runProcess({
      ...session.step(join(jobTempDir, 'script.sh'), environment.env),
      onOutput: (chunk, stream) => sink.write(stream, chunk),
      timeoutMs: Math.max(0, deadline - clock()),
      signal: cancel,
      killGraceMs: options.killGraceMs,
      onSpawn: recordGroup('script'),
    })
      .finally(() => {
        sink.endStep();
        return forgetGroup('script');
      })
      .catch((error: unknown) => {
        line(`ERROR: cannot start bash: ${errorText(error)}`);
        return undefined;
      });
    const checkoutFailure =
      checkoutInShell === undefined
        ? undefined
        : await shellCheckoutFailure(checkoutOptions, checkoutInShell, checkoutFiles);
    if (checkoutFailure !== undefined) {
      line(`ERROR: Job failed (system failure): preparing: ${errorText(checkoutFailure)}`);
      // No working tree to run after_script in.
      environment = undefined;
    }
    status =
      checkoutFailure !== undefined
        ? { state: 'failed', failureReason: 'runner_system_failure' }
        : stepOutcome(result);
  }

  // after_script runs whatever happened to the script, as long as there is a checkout to run it in.
  if (environment !== undefined && session !== undefined && afterStep?.script.some((c) => c.trim() !== '')) {
    // Its own short limit, as gitlab-runner: RUNNER_AFTER_SCRIPT_TIMEOUT, else the runner's default
    // (5 minutes), never more than the step's timeout (which the coordinator sets to the job's).
    const afterLimit =
      parseGoDuration(variables.findLast((v) => v.key === 'RUNNER_AFTER_SCRIPT_TIMEOUT')?.value) ??
      options.afterScriptTimeout ??
      DEFAULT_AFTER_SCRIPT_TIMEOUT;
    const afterTimeout = Math.min(afterLimit, afterStep.timeout ?? afterLimit);
    line('Running after_script');
    const result = await runProcess({
      ...session.step(join(jobTempDir, 'after_script.sh'), {
        ...environment.env,
        CI_JOB_STATUS: status.state,
      }),
      onOutput: (chunk, stream) => sink.write(stream, chunk),
      timeoutMs: afterTimeout * 1000,
      // A job already cancelled still gets its after_script; a cancel during it ends it.
      signal: status.state === 'canceled' ? undefined : cancel,
      killGraceMs: options.killGraceMs,
      onSpawn: recordGroup('after'),
    })
      .finally(() => {
        sink.endStep();
        return forgetGroup('after');
      })
      .catch(() => undefined);
    if (result?.timedOut) line(`WARNING: after_script timed out after ${afterTimeout} seconds`);
    else if (result !== undefined && result.exitCode !== 0) {
      line(`WARNING: after_script failed with exit code ${result.exitCode ?? result.exitSignal}`);
    }
  }

  if (options.jobFiles && environment !== undefined) {
    const files = { ...options.jobFiles, job, projectDir, jobTempDir, log: line, signal: cancel };
    status = await saveJobFiles(files, status, environment.env);
  }

  switch (status.state) {
    case 'success':
      line('Job succeeded');
      break;
    case 'canceled':
      line('ERROR: Job failed: canceled');
      break;
    default:
      if (status.failureReason === 'job_execution_timeout') {
        line(`ERROR: Job failed: execution took longer than ${timeoutSeconds} seconds`);
      } else if (status.failureReason === 'script_failure') {
        line(`ERROR: Job failed: exit code ${status.exitCode ?? 'unknown'}`);
      }
  }
  sink.end();

  await session?.close();
  if (!options.keepBuildDir) await removeJobDirectories(buildsDir, job.id);
  return status;
}

/** How a step's process ended, as the job's outcome; undefined: bash could not be started. */
function stepOutcome(result: RunProcessResult | undefined): JobOutcome {
  if (result === undefined) return { state: 'failed', failureReason: 'runner_system_failure' };
  if (result.canceled) return { state: 'canceled', failureReason: 'canceled' };
  if (result.timedOut) return { state: 'failed', failureReason: 'job_execution_timeout' };
  if (result.exitCode === 0) return { state: 'success' };
  return {
    state: 'failed',
    failureReason: 'script_failure',
    ...(result.exitCode === null ? {} : { exitCode: result.exitCode }),
  };
}

/** A `pre_get_sources_script` hook that did not succeed: how the job ends. */
class HookFailure extends Error {
  constructor(readonly outcome: JobOutcome) {
    super(`pre_get_sources_script ended ${outcome.failureReason ?? outcome.state}`);
  }
}

/** A job's build directory (the checkout's parent) and its temporary directory (scripts, file variables). */
function jobDirectories(buildsDir: string, jobId: number): { jobRoot: string; jobTempDir: string } {
  const jobRoot = join(resolve(buildsDir), String(jobId));
  return { jobRoot, jobTempDir: `${jobRoot}.tmp` };
}

/** Removes the directories {@link executeJob} made for a job (what `keepBuildDir` left). Never fails. */
export async function removeJobDirectories(buildsDir: string, jobId: number): Promise<void> {
  const { jobRoot, jobTempDir } = jobDirectories(buildsDir, jobId);
  await rm(jobRoot, { recursive: true, force: true }).catch(() => undefined);
  await rm(jobTempDir, { recursive: true, force: true }).catch(() => undefined);
}
