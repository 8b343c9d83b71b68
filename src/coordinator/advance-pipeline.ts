import { SqliteAdapter, sql } from 'kysely';
import type { PlannedJob } from '../pipeline/plan.js';
import type { Db } from '../store/open-store.js';
import type { JobChanges, JobState, JobStatus } from '../store/repositories/jobs.js';
import type { PipelineRecord } from '../store/repositories/pipelines.js';
import { repositories } from '../store/repositories.js';

/** A job as the state machine sees it. */
export type CoordinatorJob = JobState;

const FINISHED: ReadonlySet<JobStatus> = new Set(['success', 'failed', 'canceled', 'skipped']);

/** Whether a job no longer changes by itself. */
export function isFinished(status: JobStatus): boolean {
  return FINISHED.has(status);
}

/** A manual job that is optional (`allow_failure: true`) does not hold back what comes after it. */
function isBlockingManual(job: CoordinatorJob): boolean {
  return job.status === 'manual' && !job.allowFailure;
}

/** Whether `dependency` counts as a failure for the jobs after it. */
function failedUpstream(dependency: CoordinatorJob): boolean {
  return (dependency.status === 'failed' && !dependency.allowFailure) || dependency.status === 'canceled';
}

/** The jobs `job` waits for: its `needs`, or every job of the earlier stages. */
function dependenciesOf(job: CoordinatorJob, jobs: readonly CoordinatorJob[]): CoordinatorJob[] {
  if (job.needs !== null) {
    const needs = new Set(job.needs);
    return jobs.filter((other) => needs.has(other.name));
  }
  return jobs.filter((other) => other.stageIndex < job.stageIndex);
}

/**
 * What a `created` job becomes now, or null while it still waits. As GitLab: `on_success` runs
 * when everything before it succeeded (or was allowed to fail, or skipped), `on_failure` when
 * something before it failed, `always` in any case, `manual` waits for a play; a job whose
 * condition cannot be met any more is skipped. A blocking manual job holds back later jobs.
 */
export function nextStatus(job: CoordinatorJob, jobs: readonly CoordinatorJob[]): JobStatus | null {
  const dependencies = dependenciesOf(job, jobs);
  const waiting = dependencies.some(
    (dependency) =>
      !(isFinished(dependency.status) || (dependency.status === 'manual' && dependency.allowFailure)),
  );
  if (waiting) return null;
  const failed = dependencies.some(failedUpstream);
  switch (job.whenCondition) {
    case 'always':
      return 'pending';
    case 'on_failure':
      return failed ? 'pending' : 'skipped';
    case 'manual':
      return failed ? 'skipped' : 'manual';
    case 'delayed':
      return failed ? 'skipped' : 'scheduled';
    default:
      return failed ? 'skipped' : 'pending';
  }
}

/** GitLab's composite status of a pipeline from its latest jobs. */
export function pipelineStatus(jobs: readonly CoordinatorJob[]): string {
  if (jobs.some((job) => job.status === 'running')) return 'running';
  if (jobs.some((job) => job.status === 'pending')) {
    return jobs.some((job) => job.startedAt !== null) ? 'running' : 'pending';
  }
  if (jobs.some((job) => job.status === 'scheduled')) return 'scheduled';
  const blocking = jobs.some(isBlockingManual);
  if (jobs.some((job) => job.status === 'created')) return blocking ? 'manual' : 'created';
  if (blocking) return 'manual';
  if (jobs.some((job) => job.status === 'failed' && !job.allowFailure)) return 'failed';
  if (jobs.some((job) => job.status === 'canceled')) return 'canceled';
  if (jobs.length > 0 && jobs.every((job) => job.status === 'skipped' || job.status === 'manual'))
    return 'skipped';
  return 'success';
}

/**
 * Moves every `created` job of the pipeline whose dependencies are settled to its next state,
 * repeatedly (a skip can settle later jobs), then recomputes the pipeline's status and times.
 * Call inside the transaction that changed a job. Answers whether a job became pending.
 *
 * Most calls come from a job finishing mid-pipeline, when nothing waits on it and the pipeline
 * stays `running`: one statement counts the pipeline's jobs by what matters for that, and only
 * when a job is `created` (it may now move) or none is `running` or `pending` (the pipeline may
 * now end) are all its jobs read (a 100-job pipeline read in full for every finished job was
 * the largest part of finishing one).
 */
export async function advancePipeline(
  db: Db,
  pipelineId: number,
  now: number,
  locked?: PipelineRecord,
): Promise<boolean> {
  const repos = repositories(db);
  // Two jobs of one pipeline finishing at once on PostgreSQL (READ COMMITTED): each transaction
  // would see only its own job finished and write a stale status last. Locking the pipeline row
  // makes the second wait, then read both (the statements below see what the first committed).
  // SQLite transactions are serialised already. `locked`: the row as this transaction read it
  // with its lock (the runner's final report ends the job and locks its pipeline in one statement).
  const pipeline =
    locked?.id === pipelineId
      ? locked
      : await repos.pipelines.findById(pipelineId, {
          forUpdate: !(db.getExecutor().adapter instanceof SqliteAdapter),
        });
  if (pipeline?.status === 'running' && pipeline.startedAt !== null && pipeline.finishedAt === null) {
    const counts = await db
      .selectFrom('jobs')
      .select([
        sql<number>`coalesce(sum(case when status = 'created' then 1 else 0 end), 0)`.as('created'),
        sql<number>`coalesce(sum(case when status = 'running' then 1 else 0 end), 0)`.as('running'),
        sql<number>`coalesce(sum(case when status = 'pending' then 1 else 0 end), 0)`.as('pending'),
        sql<number>`coalesce(sum(case when started_at is not null then 1 else 0 end), 0)`.as('started'),
      ])
      .where('pipelineId', '=', pipelineId)
      .where('retried', '=', 0)
      .executeTakeFirst();
    const created = Number(counts?.created ?? 0);
    const running = Number(counts?.running ?? 0);
    const pending = Number(counts?.pending ?? 0);
    const started = Number(counts?.started ?? 0);
    // No job can move, and pipelineStatus would answer `running` again (a running job, or a
    // pending one after a start) with the same times: nothing to write.
    if (created === 0 && (running > 0 || (pending > 0 && started > 0))) return false;
  }
  const jobs = await repos.jobs.listStatesByPipeline(pipelineId, true);
  let queued = false;
  for (let changed = true; changed; ) {
    changed = false;
    for (const job of jobs) {
      if (job.status !== 'created') continue;
      const next = nextStatus(job, jobs);
      if (next === null) continue;
      const changes =
        next === 'pending'
          ? { status: next, queuedAt: now }
          : next === 'skipped'
            ? { status: next, finishedAt: now }
            : next === 'scheduled'
              ? // A delayed job is queued at its start_in: queuedAt holds that time until then.
                { status: next, queuedAt: now + ((await startInOf(db, job.id)) ?? 0) * 1000 }
              : { status: next };
      if (await repos.jobs.transition(job.id, ['created'], changes)) {
        Object.assign(job, changes);
        changed = true;
        if (next === 'pending') queued = true;
      }
    }
  }
  let upstreamQueued = false;
  if (pipeline) {
    const status = pipelineStatus(jobs);
    const finished = ['success', 'failed', 'canceled', 'skipped'].includes(status);
    const startedAt = pipeline.startedAt ?? (jobs.some((job) => job.startedAt !== null) ? now : null);
    const finishedAt = finished ? (pipeline.finishedAt ?? now) : null;
    // Most calls (a job claimed or finished mid-stage) change nothing of the pipeline's own row.
    if (
      status !== pipeline.status ||
      startedAt !== pipeline.startedAt ||
      finishedAt !== pipeline.finishedAt
    ) {
      await repos.pipelines.update(pipelineId, { status, startedAt, finishedAt, updatedAt: now });
    }
    if (finished && pipeline.sourceJobId !== null)
      upstreamQueued = await settleDependentBridge(db, pipeline.sourceJobId, status, now);
  }
  return queued || upstreamQueued;
}

/**
 * `strategy: depend`: the bridge that created a pipeline ends as that pipeline ended (GitLab's
 * `inherit_status_from_downstream`): success, canceled, or failed for a failed or skipped one;
 * then its own pipeline moves on. A bridge without it ended when it created the pipeline.
 */
async function settleDependentBridge(
  db: Db,
  bridgeId: number,
  downstreamStatus: string,
  now: number,
): Promise<boolean> {
  const repos = repositories(db);
  const bridge = await repos.jobs.findById<PlannedJob>(bridgeId);
  if (bridge?.status !== 'running' || bridge.spec.trigger?.strategy !== 'depend') return false;
  const changes: JobChanges =
    downstreamStatus === 'success' || downstreamStatus === 'canceled'
      ? { status: downstreamStatus, finishedAt: now }
      : { status: 'failed', failureReason: 'unknown_failure', finishedAt: now };
  if (!(await repos.jobs.transition(bridgeId, ['running'], changes))) return false;
  return advancePipeline(db, bridge.pipelineId, now);
}

async function startInOf(db: Db, jobId: number): Promise<number | null> {
  const job = await repositories(db).jobs.findById<PlannedJob>(jobId);
  return job?.spec.startInSeconds ?? null;
}
