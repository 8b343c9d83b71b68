import { TesseraError } from '../errors.js';
import type { PlannedJob } from '../pipeline/plan.js';
import type { JobRecord } from '../store/repositories/jobs.js';
import type { Coordinator } from './coordinator.js';
import { hashesEqual, hashSecret } from './secret-token.js';

/**
 * The job `jobId` when `token` is its job token (compared as hashes in constant time). The token
 * keeps working after the job ends so that its runner learns the final status.
 *
 * @throws TesseraError `ERR_NOT_FOUND` for an unknown job, `ERR_JOB_TOKEN_INVALID` for a wrong token.
 */
export async function authenticateJob(
  coordinator: Coordinator,
  jobId: number,
  token: unknown,
): Promise<JobRecord<PlannedJob>> {
  const found = await coordinator.repos.jobs.findWithHashes<PlannedJob>(jobId);
  const valid =
    typeof token === 'string' &&
    token !== '' &&
    found !== undefined &&
    hashesEqual(found.tokenHash, hashSecret(token));
  if (!valid)
    throw new TesseraError('ERR_JOB_TOKEN_INVALID', `the job token does not belong to job ${jobId}`);
  return found.job;
}

/** Extends a running job's lease (each runner update proves the runner is alive). */
export async function extendLease(coordinator: Coordinator, jobId: number): Promise<void> {
  await coordinator.repos.jobs.transition(jobId, ['running'], {
    leaseExpiresAt: coordinator.clock() + coordinator.config.leaseTimeout * 1000,
  });
}
