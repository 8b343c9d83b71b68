import { type Selectable, sql } from 'kysely';
import type { PlannedJob } from '../pipeline/plan.js';
import type { Db } from '../store/open-store.js';
import { PREPARED } from '../store/prepared-statements.js';
import { type JobRecord, toJob } from '../store/repositories/jobs.js';
import { type PipelineRecord, toPipeline } from '../store/repositories/pipelines.js';
import { repositories } from '../store/repositories.js';
import type { JobsTable, PipelinesTable } from '../store/schema.js';
import { advancePipeline } from './advance-pipeline.js';
import type { Coordinator } from './coordinator.js';
import { recordCoverage } from './job-coverage.js';
import { recordDeployment } from './record-deployment.js';
import { recordRelease } from './record-release.js';
import { attachResourceGroup } from './resource-groups.js';
import { settleEnvironment } from './settle-environment.js';

/** How a running job ended. */
export interface JobOutcome {
  status: 'success' | 'failed';
  exitCode?: number | null;
  /** GitLab's failure reasons (`script_failure`, `runner_system_failure`, `job_execution_timeout`, …). */
  failureReason?: string | null;
}

/**
 * Whether the job's `retry` allows another attempt after `failureReason` and `exitCode`, as GitLab:
 * a listed reason or a listed exit code; `always` retries any failure unless `exit_codes` narrows it.
 */
function mayRetry(job: JobRecord<PlannedJob>, failureReason: string, exitCode: number | null): boolean {
  const retry = job.spec.retry ?? { max: 0, when: [] };
  if (job.attempt >= retry.max) return false;
  const exitCodes = retry.exitCodes ?? [];
  if (retry.when.length === 0 || (retry.when.includes('always') && exitCodes.length === 0)) return true;
  return retry.when.includes(failureReason) || (exitCode !== null && exitCodes.includes(exitCode));
}

/**
 * Stores a new attempt of `job` (GitLab's retry: a new job record; the old one is marked retried)
 * in state `status`. Call inside a transaction.
 */
export async function createAttempt(
  db: Db,
  job: JobRecord<PlannedJob>,
  status: 'pending' | 'created',
  now: number,
  userId: number | null,
): Promise<JobRecord<PlannedJob>> {
  const repos = repositories(db);
  await repos.jobs.update(job.id, { retried: true });
  const attempt = await repos.jobs.create<PlannedJob>({
    pipelineId: job.pipelineId,
    projectId: job.projectId,
    name: job.name,
    stage: job.stage,
    stageIndex: job.stageIndex,
    status,
    whenCondition: job.whenCondition,
    allowFailure: job.spec.allowFailure,
    spec: job.spec,
    needs: job.needs,
    tags: job.tags,
    environmentName: job.environmentName,
    attempt: job.attempt + 1,
    userId,
    timeoutSeconds: job.timeoutSeconds,
    createdAt: now,
  });
  await attachResourceGroup(db, job.projectId, attempt.id, job.spec.resourceGroup, now);
  if (job.spec.environment?.action === 'start') {
    const pipeline = await repos.pipelines.findById(job.pipelineId);
    if (pipeline) await recordDeployment(db, attempt, pipeline, now);
  }
  if (status === 'pending') await repos.jobs.update(attempt.id, { queuedAt: now });
  return { ...attempt, queuedAt: status === 'pending' ? now : null };
}

/** What finishing a job inside its transaction answers. */
interface Settled {
  status: string;
  queued: boolean;
}

/** The job-row changes that end a running job with `outcome` at `now`. */
function endChanges(outcome: JobOutcome, now: number) {
  return {
    status: outcome.status,
    finishedAt: now,
    exitCode: outcome.exitCode ?? null,
    failureReason: outcome.status === 'failed' ? (outcome.failureReason ?? 'script_failure') : null,
    leaseExpiresAt: null,
  };
}

/**
 * What follows a job's move from `running` to its outcome, in the same transaction: coverage,
 * environment, release, `allow_failure: exit_codes`, a retry, `auto_cancel`, the pipeline.
 * `job` is the job as it was while running (its spec, attempt and user do not change).
 */
async function afterEnd(
  tx: Db,
  job: JobRecord<PlannedJob>,
  outcome: JobOutcome,
  now: number,
  lockedPipeline?: PipelineRecord,
): Promise<Settled> {
  const repos = repositories(tx);
  const failureReason = outcome.status === 'failed' ? (outcome.failureReason ?? 'script_failure') : null;
  const exitCodes = job.spec.allowFailureExitCodes ?? [];
  const allowFailure =
    exitCodes.length > 0
      ? typeof outcome.exitCode === 'number' && exitCodes.includes(outcome.exitCode)
      : job.allowFailure;
  if (job.spec.coverage) await recordCoverage(tx, job.id, job.spec.coverage);
  if (job.spec.environment) await settleEnvironment(tx, job, outcome.status, now);
  if (outcome.status === 'success' && job.spec.release) {
    const line = await recordRelease(tx, job, now);
    if (line !== null) await repos.jobs.appendTrace(job.id, `${line}\n`);
  }
  if (exitCodes.length > 0)
    await tx
      .updateTable('jobs')
      .set({ allowFailure: allowFailure ? 1 : 0 })
      .where('id', '=', job.id)
      .execute();
  let queued = false;
  if (failureReason !== null && !allowFailure && mayRetry(job, failureReason, outcome.exitCode ?? null)) {
    await createAttempt(tx, job, 'pending', now, job.userId);
    queued = true;
  } else if (failureReason !== null && !allowFailure && job.spec.autoCancel?.onJobFailure === 'all') {
    // workflow:auto_cancel:on_job_failure: all: the failure cancels the rest of the pipeline.
    for (const other of await repos.jobs.listStatesByPipeline(job.pipelineId, true)) {
      if (other.id === job.id) continue;
      await repos.jobs.transition(other.id, ['created', 'pending', 'running', 'manual', 'scheduled'], {
        status: 'canceled',
        finishedAt: now,
        leaseExpiresAt: null,
      });
    }
  }
  queued = (await advancePipeline(tx, job.pipelineId, now, lockedPipeline)) || queued;
  // A job of a resource group frees it: the group's next job may now be claimed.
  return { status: outcome.status, queued: queued || Boolean(job.spec.resourceGroup) };
}

/**
 * On PostgreSQL, a job's success reported with its job token, in one statement: the compare-and-set
 * from `running` (the token's check included) and the lock of its pipeline row that advancing it
 * takes anyway, in the same order as before (the job's row, then the pipeline's), so no new wait
 * cycle can form. The statements after it see what every earlier holder of the pipeline's lock
 * committed, as after a lock of their own. A job whose end touches more rows (an environment,
 * `coverage`, a release) leaves its pipeline unlocked here (`pipeline` undefined): its end locks
 * those rows first and the pipeline last, as every other way a job ends does. Answers undefined
 * when no running job `jobId` has the token.
 */
async function endAndLockPipeline(
  tx: Db,
  jobId: number,
  tokenHash: string,
  changes: ReturnType<typeof endChanges>,
): Promise<{ job: JobRecord<PlannedJob>; pipeline: PipelineRecord | undefined } | undefined> {
  const absent = (key: string) =>
    sql`coalesce(jsonb_typeof(ended.spec::jsonb -> ${sql.lit(key)}), 'null') = 'null'`;
  const { rows } = await sql<{
    job: Selectable<JobsTable>;
    pipeline: Selectable<PipelinesTable> | null;
  }>`${PREPARED}
    with ended as (
      update jobs set status = ${changes.status}, finished_at = ${changes.finishedAt},
        exit_code = ${changes.exitCode}::integer, failure_reason = ${changes.failureReason}::text,
        lease_expires_at = null
      where id = ${jobId} and status = 'running' and token_hash = ${tokenHash}
      returning *),
    locked as materialized (
      select p.* from pipelines p join ended on p.id = ended.pipeline_id
      where ${absent('environment')} and ${absent('coverage')} and ${absent('release')}
      for update of p)
    select row_to_json(ended.*) as job, (select row_to_json(locked.*) from locked) as pipeline
    from ended`.execute(tx);
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    job: toJob<PlannedJob>(row.job),
    pipeline: row.pipeline === null ? undefined : toPipeline(row.pipeline),
  };
}

/** Wakes what waits on a job finishing once its transaction has committed. */
function announce(coordinator: Coordinator, result: Settled, outcome: JobOutcome): void {
  if (result.queued) coordinator.notifyJobs();
  if (result.status === outcome.status) coordinator.notifyJobFinished();
}

/**
 * Ends a running job (runner report, or lease expiry): records the outcome, applies
 * `allow_failure: exit_codes`, retries a failure when `retry` allows, and advances the pipeline.
 * A job that is no longer running (cancelled meanwhile) is left as it is. Answers the job's status.
 * `running`: the job as the caller read it while it was running, which spares reading it again:
 * what finishing it reads (spec, attempt, user, pipeline) does not change while it runs, and the
 * move from `running` is a compare-and-set.
 */
export async function finishJob(
  coordinator: Coordinator,
  jobId: number,
  outcome: JobOutcome,
  running?: JobRecord<PlannedJob>,
): Promise<string> {
  const now = coordinator.clock();
  const result = await coordinator.store.transaction(async (tx): Promise<Settled> => {
    const repos = repositories(tx);
    const job =
      running?.id === jobId && running.status === 'running'
        ? running
        : await repos.jobs.findById<PlannedJob>(jobId);
    if (!job) return { status: 'missing', queued: false };
    if (job.status !== 'running') return { status: job.status, queued: false };
    const moved = await repos.jobs.transition(job.id, ['running'], endChanges(outcome, now));
    if (!moved) return { status: (await repos.jobs.findById(jobId))?.status ?? 'missing', queued: false };
    return afterEnd(tx, job, outcome, now);
  });
  announce(coordinator, result, outcome);
  return result.status;
}

/**
 * {@link finishJob} for a runner's final report: the job token's check is the compare-and-set
 * itself (`… where id = ? and status = 'running' and token_hash = ? returning *`), so the report
 * reads no job before it. Answers the job's status, or undefined when no running job `jobId` has
 * the token hashing to `tokenHash` (a wrong token, or a job no longer running: the caller finds
 * out which the slow way).
 */
export async function finishJobWithToken(
  coordinator: Coordinator,
  jobId: number,
  tokenHash: string,
  outcome: JobOutcome,
): Promise<string | undefined> {
  const now = coordinator.clock();
  const changes = endChanges(outcome, now);
  const result = await coordinator.store.transaction(async (tx): Promise<Settled | undefined> => {
    if (coordinator.store.dialect === 'postgres' && outcome.status === 'success') {
      const ended = await endAndLockPipeline(tx, jobId, tokenHash, changes);
      return ended && afterEnd(tx, ended.job, outcome, now, ended.pipeline);
    }
    const job = await repositories(tx).jobs.finishRunning<PlannedJob>(jobId, tokenHash, changes);
    return job && afterEnd(tx, job, outcome, now);
  });
  if (result === undefined) return undefined;
  announce(coordinator, result, outcome);
  return result.status;
}
