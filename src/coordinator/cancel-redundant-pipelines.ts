import type { PlannedJob } from '../pipeline/plan.js';
import type { JobStatus } from '../store/repositories/jobs.js';
import type { PipelineRecord } from '../store/repositories/pipelines.js';
import { repositories } from '../store/repositories.js';
import { advancePipeline } from './advance-pipeline.js';
import type { Coordinator } from './coordinator.js';

/** Pipeline states a newer commit may still cancel (GitLab's "alive" ones that Tessera has). */
const ALIVE = new Set(['created', 'pending', 'running', 'scheduled']);
const UNFINISHED: JobStatus[] = ['created', 'pending', 'running', 'manual', 'scheduled'];

/**
 * GitLab's auto-cancel of redundant pipelines: a new pipeline on a branch cancels the older,
 * unfinished pipelines of that branch built for other commits, each as its own
 * `workflow:auto_cancel:on_new_commit` says: `conservative` (the default) cancels the whole
 * pipeline unless a job that is not `interruptible` has started; `interruptible` cancels only its
 * interruptible jobs; `none` leaves it alone. Answers the ids of the pipelines touched.
 */
export async function cancelRedundantPipelines(
  coordinator: Coordinator,
  pipeline: PipelineRecord,
): Promise<number[]> {
  if (pipeline.refType !== 'branch') return [];
  const older = await coordinator.store.db
    .selectFrom('pipelines')
    .select('id')
    .where('projectId', '=', pipeline.projectId)
    .where('ref', '=', pipeline.ref)
    .where('refType', '=', 'branch')
    .where('id', '<', pipeline.id)
    .where('sha', '!=', pipeline.sha)
    .where('status', 'in', [...ALIVE])
    .orderBy('id', 'desc')
    .limit(100)
    .execute();
  const touched: number[] = [];
  for (const candidate of older) {
    const now = coordinator.clock();
    const changed = await coordinator.store.transaction(async (tx) => {
      const repos = repositories(tx);
      const jobs = await repos.jobs.listByPipeline<PlannedJob>(candidate.id, true);
      const mode = jobs[0]?.spec.autoCancel?.onNewCommit ?? 'conservative';
      if (mode === 'none') return false;
      const interruptible = (job: (typeof jobs)[number]) => job.spec.interruptible === true;
      if (mode === 'conservative' && jobs.some((job) => job.startedAt !== null && !interruptible(job)))
        return false;
      let moved = false;
      for (const job of jobs) {
        if (mode === 'interruptible' && !interruptible(job)) continue;
        const done = await repos.jobs.transition(job.id, UNFINISHED, {
          status: 'canceled',
          finishedAt: now,
          leaseExpiresAt: null,
        });
        moved = moved || Boolean(done);
      }
      if (moved) await advancePipeline(tx, candidate.id, now);
      return moved;
    });
    if (changed) touched.push(candidate.id);
  }
  if (touched.length > 0) coordinator.notifyJobFinished();
  return touched;
}
