import type { PlannedJob } from '../pipeline/plan.js';
import type { Db } from '../store/open-store.js';
import { DeploymentRepository } from '../store/repositories/deployments.js';
import type { JobRecord } from '../store/repositories/jobs.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { EnvironmentRecord } from '../store/repositories/protection.js';
import type { UserRecord } from '../store/repositories/users.js';
import { repositories } from '../store/repositories.js';
import { advancePipeline } from './advance-pipeline.js';
import type { Coordinator } from './coordinator.js';
import { createAttempt } from './finish-job.js';
import { checkMayChangeJob } from './job-actions.js';

/** Who stops an environment: a user through the API (checked like a play of each stop job), or none. */
export interface StopActor {
  readonly user: UserRecord;
  readonly project: ProjectRecord;
}

/** What {@link stopEnvironment} did. */
export interface EnvironmentStop {
  /** The environment as it is now. */
  readonly environment: EnvironmentRecord;
  /** Whether this call changed its state (false: it was not available, or another node stopped it first). */
  readonly changed: boolean;
  /** The stop jobs this call played or ran again. */
  readonly stopJobIds: readonly number[];
}

/** States of a finished stop job that a stop runs again (GitLab retries what it cannot play). */
const RERUNNABLE = new Set(['success', 'failed', 'canceled']);

/**
 * The jobs that stop `environment` (GitLab's `stop_actions`): the `on_stop` jobs named by the
 * finished deployments of the pipeline of its latest finished deployment, each the latest attempt of
 * that name in that pipeline, `when: manual`, and either waiting to be played or finished so that it
 * can run again.
 */
export async function stopJobsOf(db: Db, environment: EnvironmentRecord): Promise<JobRecord<PlannedJob>[]> {
  const repos = repositories(db);
  const found = new Map<number, JobRecord<PlannedJob>>();
  for (const deployment of await new DeploymentRepository(db).lastFinishedGroup(environment.id)) {
    const deployer = await repos.jobs.findById<PlannedJob>(deployment.jobId);
    const onStop = deployer?.spec.environment?.onStop;
    if (onStop == null) continue;
    const row = await db
      .selectFrom('jobs')
      .select('id')
      .where('pipelineId', '=', deployment.pipelineId)
      .where('name', '=', onStop)
      .where('retried', '=', 0)
      .orderBy('id', 'desc')
      .executeTakeFirst();
    const stop = row && (await repos.jobs.findById<PlannedJob>(row.id));
    if (
      stop &&
      stop.whenCondition === 'manual' &&
      stop.spec.environment?.action === 'stop' &&
      stop.spec.environment.name === environment.name &&
      (stop.status === 'manual' || RERUNNABLE.has(stop.status))
    ) {
      found.set(stop.id, stop);
    }
  }
  return [...found.values()];
}

/**
 * Stops an environment as GitLab's stop service: an `available` environment with stop jobs
 * ({@link stopJobsOf}) becomes `stopping` and each stop job is played (or run again when it has
 * run), and the stop job that succeeds makes it `stopped` (see `settleEnvironment`); one without
 * stop jobs is `stopped` at once. `force` stops an `available` or `stopping` environment at once
 * and runs nothing. A stop clears the auto-stop time, so a stop job that fails leaves an
 * `available` environment that the sweep does not stop again and again.
 *
 * With an `actor` (the API), each stop job is checked as a play by them (protected ref, protected
 * environment) before anything changes, and they become its user; without one (the auto-stop
 * sweep), a stop job runs as the user it has, and the claim still refuses it if that user may not
 * deploy to a protected environment. The state change is a conditional UPDATE in the transaction
 * that queues the jobs, so of several nodes stopping one environment only one does.
 *
 * @param options.dueBy only stop when the auto-stop time is at or before this (the sweep: a
 *   deployment that renewed it since the sweep looked keeps the environment).
 * @throws TesseraError `ERR_REF_PROTECTED` / `ERR_ENVIRONMENT_PROTECTED` when the actor may not run a stop job.
 */
export async function stopEnvironment(
  coordinator: Coordinator,
  environment: EnvironmentRecord,
  options: { actor?: StopActor; force?: boolean; dueBy?: number } = {},
): Promise<EnvironmentStop> {
  const now = coordinator.clock();
  const reread = async () =>
    (await coordinator.repos.protection.findEnvironmentById(environment.projectId, environment.id)) ??
    environment;
  if (options.force) {
    const result = await coordinator.store.db
      .updateTable('environments')
      .set({ state: 'stopped', autoStopAt: null, updatedAt: now })
      .where('id', '=', environment.id)
      .where('state', 'in', ['available', 'stopping'])
      .executeTakeFirst();
    return { environment: await reread(), changed: Number(result.numUpdatedRows) > 0, stopJobIds: [] };
  }
  if (environment.state !== 'available') return { environment, changed: false, stopJobIds: [] };
  const stopJobs = await stopJobsOf(coordinator.store.db, environment);
  const { actor } = options;
  if (actor) {
    for (const job of stopJobs) {
      await checkMayChangeJob(
        coordinator,
        actor.project,
        actor.user,
        job,
        job.status === 'manual' ? 'play' : 'retry',
      );
    }
  }
  const stopJobIds = await coordinator.store.transaction(async (tx) => {
    let claim = tx
      .updateTable('environments')
      .set({ state: stopJobs.length > 0 ? 'stopping' : 'stopped', autoStopAt: null, updatedAt: now })
      .where('id', '=', environment.id)
      .where('state', '=', 'available');
    if (options.dueBy !== undefined) claim = claim.where('autoStopAt', '<=', options.dueBy);
    const result = await claim.executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return null;
    const started: number[] = [];
    for (const job of stopJobs) {
      const id = await runStopJob(tx, job, actor?.user.id ?? job.userId, now);
      if (id !== null) started.push(id);
    }
    return started;
  });
  if (stopJobIds !== null && stopJobIds.length > 0) coordinator.notifyJobs();
  return { environment: await reread(), changed: stopJobIds !== null, stopJobIds: stopJobIds ?? [] };
}

/**
 * Queues a stop job: plays it when it waits to be played, else runs it again as a new attempt (it
 * ran before). Answers the id of the job that was queued, or null when the job changed meanwhile.
 */
async function runStopJob(
  tx: Db,
  job: JobRecord<PlannedJob>,
  userId: number | null,
  now: number,
): Promise<number | null> {
  const repos = repositories(tx);
  let queued: number | null = null;
  if (job.status === 'manual') {
    if (await repos.jobs.transition(job.id, ['manual'], { status: 'pending', queuedAt: now })) {
      await tx.updateTable('jobs').set({ userId }).where('id', '=', job.id).execute();
      queued = job.id;
    }
  } else {
    const current = await repos.jobs.findById<PlannedJob>(job.id);
    if (current && !current.retried && RERUNNABLE.has(current.status)) {
      queued = (await createAttempt(tx, current, 'pending', now, userId)).id;
    }
  }
  if (queued !== null) await advancePipeline(tx, job.pipelineId, now);
  return queued;
}
