import type { PlannedJob } from '../pipeline/plan.js';
import type { Coordinator } from './coordinator.js';
import { finishJob } from './finish-job.js';

/**
 * Fails every running job whose runner stopped sending updates (its lease ran out) with
 * `runner_system_failure`, which `retry` may turn into a new attempt. Runs every few seconds in
 * `tessera serve`; answers how many jobs it ended.
 */
export async function expireLeases(coordinator: Coordinator): Promise<number> {
  const now = coordinator.clock();
  const expired = await coordinator.repos.jobs.listExpiredLeases<PlannedJob>(now);
  for (const job of expired) {
    await coordinator.repos.jobs.appendTrace(
      job.id,
      '\nERROR: Job failed: the runner stopped reporting (lease expired): runner_system_failure\n',
    );
    await finishJob(coordinator, job.id, { status: 'failed', failureReason: 'runner_system_failure' });
    coordinator.counters.leasesExpired += 1;
  }
  return expired.length;
}
