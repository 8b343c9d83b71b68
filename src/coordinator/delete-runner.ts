import { repositories } from '../store/repositories.js';
import { advancePipeline } from './advance-pipeline.js';
import type { Coordinator } from './coordinator.js';

/**
 * Deletes a runner (`DELETE /runners/:id`), as GitLab does: its token stops working at once, and
 * the jobs it was running fail with `runner_system_failure` (nobody will report them). Its earlier
 * jobs stay, without a runner. The runner's row is locked first, so a claim by it that is under
 * way ends before (its job is then among those failed) or finds the runner gone.
 */
export async function deleteRunner(coordinator: Coordinator, runnerId: number): Promise<void> {
  const now = coordinator.clock();
  const queued = await coordinator.store.transaction(async (tx) => {
    const repos = repositories(tx);
    if (!(await repos.runners.lock(runnerId, 'delete', coordinator.store.dialect))) return false;
    const running = await tx
      .selectFrom('jobs')
      .select(['id', 'pipelineId'])
      .where('runnerId', '=', runnerId)
      .where('status', '=', 'running')
      .execute();
    for (const job of running) {
      await repos.jobs.transition(job.id, ['running'], {
        status: 'failed',
        finishedAt: now,
        failureReason: 'runner_system_failure',
        leaseExpiresAt: null,
      });
    }
    await tx.updateTable('jobs').set({ runnerId: null }).where('runnerId', '=', runnerId).execute();
    await repos.runners.delete(runnerId);
    let next = false;
    for (const pipelineId of new Set(running.map((job) => job.pipelineId))) {
      next = (await advancePipeline(tx, pipelineId, now)) || next;
    }
    return next;
  });
  if (queued) coordinator.notifyJobs();
}
