import { deleteJobArtifacts } from '../artifacts/expire-artifacts.js';
import { TesseraError } from '../errors.js';
import type { PlannedJob } from '../pipeline/plan.js';
import type { Db } from '../store/open-store.js';
import type { JobRecord, JobStatus } from '../store/repositories/jobs.js';
import type { PipelineRecord } from '../store/repositories/pipelines.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';
import { repositories } from '../store/repositories.js';
import { ACCESS_LEVELS } from './access-level.js';
import { advancePipeline, isFinished } from './advance-pipeline.js';
import type { Coordinator } from './coordinator.js';
import { environmentRefusal } from './create-pipeline.js';
import { createAttempt } from './finish-job.js';
import { projectAccessLevel } from './permissions.js';
import { protectedRefRefusal, refProtection } from './protected-ref.js';

const CANCELABLE: JobStatus[] = ['created', 'pending', 'running', 'manual', 'scheduled'];

/**
 * Checks that `user` may change jobs of `pipeline` (cancel, retry, play, erase; `action` names it
 * in the refusal): when its ref is protected, they need the right to push to the branch or create
 * the tag (the ref's allowed level), as GitLab's build and pipeline policies ask.
 *
 * @throws TesseraError `ERR_REF_PROTECTED` saying who may.
 */
export async function checkMayChangeOnRef(
  coordinator: Coordinator,
  project: ProjectRecord,
  user: UserRecord,
  pipeline: PipelineRecord,
  action: string,
): Promise<void> {
  const protection = await refProtection(coordinator.store.db, project.id, pipeline.refType, pipeline.ref);
  const level = await projectAccessLevel(coordinator, user.id, project);
  const refusal = protectedRefRefusal(
    protection,
    pipeline.refType,
    pipeline.ref,
    level,
    user.isAdmin,
    `${action} on it`,
  );
  if (refusal) throw new TesseraError('ERR_REF_PROTECTED', refusal);
}

/**
 * Checks that `user` may act on `job` (`action`: cancel, retry, play, erase): the ref rule of
 * {@link checkMayChangeOnRef} and, for a deployment, the rule of its protected environment (the
 * rules of pipeline creation, applied again to whoever touches the job).
 */
export async function checkMayChangeJob(
  coordinator: Coordinator,
  project: ProjectRecord,
  user: UserRecord,
  job: JobRecord<PlannedJob>,
  action: string,
): Promise<void> {
  const pipeline = await coordinator.repos.pipelines.findById(job.pipelineId);
  if (!pipeline) throw new TesseraError('ERR_NOT_FOUND', `pipeline ${job.pipelineId} not found`);
  await checkMayChangeOnRef(coordinator, project, user, pipeline, `${action} jobs`);
  if (job.environmentName) {
    const why = await environmentRefusal(
      coordinator,
      coordinator.store.db,
      project,
      user,
      job.environmentName,
    );
    if (why) throw new TesseraError('ERR_ENVIRONMENT_PROTECTED', `job "${job.name}": ${why}`);
  }
}

/** Cancels a job that has not finished; a running job's runner learns it from its next update. */
export async function cancelJob(coordinator: Coordinator, job: JobRecord<PlannedJob>): Promise<void> {
  const now = coordinator.clock();
  const done = await coordinator.store.transaction(async (tx) => {
    const moved = await repositories(tx).jobs.transition(job.id, CANCELABLE, {
      status: 'canceled',
      finishedAt: now,
      leaseExpiresAt: null,
    });
    if (moved) await advancePipeline(tx, job.pipelineId, now);
    return moved;
  });
  if (!done) throw new TesseraError('ERR_JOB_STATE', `job ${job.id} is ${job.status} and cannot be canceled`);
}

/** Cancels every unfinished job of a pipeline. */
export async function cancelPipeline(coordinator: Coordinator, pipelineId: number): Promise<void> {
  const now = coordinator.clock();
  await coordinator.store.transaction((tx) => cancelPipelineIn(tx, pipelineId, now));
}

/** Cancels a pipeline's unfinished jobs, then its child pipelines (GitLab cascades to children). */
async function cancelPipelineIn(tx: Db, pipelineId: number, now: number): Promise<void> {
  const repos = repositories(tx);
  const bridgeIds: number[] = [];
  for (const job of await repos.jobs.listByPipeline<PlannedJob>(pipelineId, true)) {
    if (job.spec.trigger) bridgeIds.push(job.id);
    await repos.jobs.transition(job.id, CANCELABLE, {
      status: 'canceled',
      finishedAt: now,
      leaseExpiresAt: null,
    });
  }
  await advancePipeline(tx, pipelineId, now);
  if (bridgeIds.length === 0) return;
  const children = await tx
    .selectFrom('pipelines')
    .select('id')
    .where('sourceJobId', 'in', bridgeIds)
    .where('source', '=', 'parent_pipeline')
    .execute();
  for (const child of children) await cancelPipelineIn(tx, child.id, now);
}

/**
 * Retries a finished job as a new attempt (GitLab: a new job id), and returns later jobs that
 * were skipped because of it to `created` so they run again when it succeeds.
 */
export async function retryJob(
  coordinator: Coordinator,
  project: ProjectRecord,
  user: UserRecord,
  job: JobRecord<PlannedJob>,
): Promise<JobRecord<PlannedJob>> {
  if (!isFinished(job.status) || job.retried) {
    throw new TesseraError(
      'ERR_JOB_STATE',
      `job ${job.id} is ${job.retried ? 'already retried' : job.status} and cannot be retried`,
    );
  }
  await checkMayChangeJob(coordinator, project, user, job, 'retry');
  const now = coordinator.clock();
  const attempt = await coordinator.store.transaction(async (tx) => {
    const repos = repositories(tx);
    const created = await createAttempt(tx, job, 'created', now, user.id);
    for (const later of await repos.jobs.listByPipeline(job.pipelineId, true)) {
      const dependsOnIt =
        later.needs === null ? later.stageIndex > job.stageIndex : later.needs.includes(job.name);
      if (dependsOnIt && later.status === 'skipped') {
        await repos.jobs.transition(later.id, ['skipped'], { status: 'created', finishedAt: null });
      }
    }
    await repos.pipelines.update(job.pipelineId, { finishedAt: null });
    await advancePipeline(tx, job.pipelineId, now);
    return created;
  });
  coordinator.notifyJobs();
  return (await coordinator.repos.jobs.findById<PlannedJob>(attempt.id)) ?? attempt;
}

/** Retries every failed or canceled job of a pipeline (latest attempts). */
export async function retryPipeline(
  coordinator: Coordinator,
  project: ProjectRecord,
  user: UserRecord,
  pipelineId: number,
): Promise<void> {
  const jobs = await coordinator.repos.jobs.listByPipeline<PlannedJob>(pipelineId, true);
  const failed = jobs.filter((job) => job.status === 'failed' || job.status === 'canceled');
  if (failed.length === 0)
    throw new TesseraError('ERR_JOB_STATE', `pipeline ${pipelineId} has no failed or canceled job to retry`);
  for (const job of failed) await retryJob(coordinator, project, user, job);
}

/** Starts a manual job; the player becomes the job's user (its `user_*` claims), as GitLab. */
export async function playJob(
  coordinator: Coordinator,
  project: ProjectRecord,
  user: UserRecord,
  job: JobRecord<PlannedJob>,
): Promise<void> {
  if (job.status !== 'manual')
    throw new TesseraError('ERR_JOB_STATE', `job ${job.id} is ${job.status}, not manual`);
  await checkMayChangeJob(coordinator, project, user, job, 'play');
  const now = coordinator.clock();
  const moved = await coordinator.store.transaction(async (tx) => {
    const ok = await repositories(tx).jobs.transition(job.id, ['manual'], {
      status: 'pending',
      queuedAt: now,
    });
    if (ok) {
      await tx.updateTable('jobs').set({ userId: user.id }).where('id', '=', job.id).execute();
      await advancePipeline(tx, job.pipelineId, now);
    }
    return ok;
  });
  if (!moved) throw new TesseraError('ERR_JOB_STATE', `job ${job.id} is no longer manual`);
  coordinator.notifyJobs();
}

/**
 * Erases a finished job's log (GitLab's `erase`): a maintainer may, and so may the developer who
 * started the job; on a protected ref only someone allowed to push to it (see
 * {@link checkMayChangeJob}).
 */
export async function eraseJob(
  coordinator: Coordinator,
  project: ProjectRecord,
  user: UserRecord,
  level: number,
  job: JobRecord<PlannedJob>,
): Promise<void> {
  if (!isFinished(job.status)) {
    throw new TesseraError(
      'ERR_JOB_STATE',
      `job ${job.id} is ${job.status}: only a finished job can be erased`,
    );
  }
  await checkMayChangeJob(coordinator, project, user, job, 'erase');
  if (level < ACCESS_LEVELS.maintainer && job.userId !== user.id) {
    throw new TesseraError(
      'ERR_FORBIDDEN',
      'erasing a job needs the maintainer role, or the developer role and being who started the job',
    );
  }
  // GitLab's erase removes the job's log and its artifacts.
  await coordinator.repos.jobs.deleteTrace(job.id);
  await deleteJobArtifacts(coordinator, job.id);
}
