import type { PlannedJob } from '../pipeline/plan.js';
import type { Coordinator } from './coordinator.js';
import { finishJob } from './finish-job.js';

/**
 * Fails every running job whose runner stopped sending updates (its lease ran out) with
 * `runner_system_failure`, or that outlived its timeout with `job_execution_timeout`; `retry`
 * may turn either into a new attempt. Runs every few seconds in
 * `tessera serve`; answers how many jobs it ended.
 */
export async function expireLeases(coordinator: Coordinator): Promise<number> {
  const now = coordinator.clock();
  const expired = await coordinator.repos.jobs.listExpiredLeases<PlannedJob>(now);
  for (const job of expired) {
    const overdue = job.startedAt !== null && now > job.startedAt + job.timeoutSeconds * 1000;
    const reason = overdue ? 'job_execution_timeout' : 'runner_system_failure';
    await coordinator.repos.jobs.appendTrace(
      job.id,
      overdue
        ? `\nERROR: Job failed: execution took longer than ${job.timeoutSeconds} seconds: ${reason}\n`
        : `\nERROR: Job failed: the runner stopped reporting (lease expired): ${reason}\n`,
    );
    await finishJob(coordinator, job.id, { status: 'failed', failureReason: reason });
    coordinator.counters.leasesExpired += 1;
  }
  return expired.length;
}
