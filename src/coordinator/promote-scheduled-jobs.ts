import { repositories } from '../store/repositories.js';
import { advancePipeline } from './advance-pipeline.js';
import type { Coordinator } from './coordinator.js';

/**
 * Queues every `scheduled` job (`when: delayed`) whose `start_in` has passed: it becomes `pending`
 * and its pipeline advances. Runs in `tessera serve`'s sweep and before a runner's claim, so a
 * delayed job starts within a sweep of its time. Answers how many jobs it queued.
 */
export async function promoteScheduledJobs(coordinator: Coordinator): Promise<number> {
  const now = coordinator.clock();
  const due = await coordinator.store.db
    .selectFrom('jobs')
    .select(['id', 'pipelineId'])
    .where('status', '=', 'scheduled')
    .where('queuedAt', '<=', now)
    .orderBy('id')
    .limit(100)
    .execute();
  let queued = 0;
  for (const job of due) {
    const moved = await coordinator.store.transaction(async (tx) => {
      const done = await repositories(tx).jobs.transition(job.id, ['scheduled'], { status: 'pending' });
      if (done) await advancePipeline(tx, job.pipelineId, now);
      return Boolean(done);
    });
    if (moved) queued += 1;
  }
  if (queued > 0) coordinator.notifyJobs();
  return queued;
}
