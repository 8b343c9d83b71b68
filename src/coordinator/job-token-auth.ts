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

/**
 * Extends a running job's lease (each runner update proves the runner is alive), but never past
 * its timeout plus one lease period: a runner that keeps a job alive beyond its timeout loses it,
 * and the job fails with `job_execution_timeout`. A lease renewed less than a tenth of the lease
 * period ago (at least a second) is left as it is: a runner sends a log chunk or a keepalive every
 * few seconds (a local run every 100 ms), and writing the row each time bought nothing.
 */
export async function extendLease(
  coordinator: Coordinator,
  job: Pick<JobRecord<PlannedJob>, 'id' | 'startedAt' | 'timeoutSeconds' | 'leaseExpiresAt'>,
): Promise<void> {
  const lease = coordinator.config.leaseTimeout * 1000;
  const renewed = coordinator.clock() + lease;
  const limit = job.startedAt === null ? renewed : job.startedAt + job.timeoutSeconds * 1000 + lease;
  const target = Math.min(renewed, limit);
  if (job.leaseExpiresAt !== null && job.leaseExpiresAt >= target - Math.max(1000, lease / 10)) return;
  await coordinator.repos.jobs.transition(job.id, ['running'], { leaseExpiresAt: target });
}
