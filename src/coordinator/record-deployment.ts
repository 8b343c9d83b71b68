import type { PlannedJob } from '../pipeline/plan.js';
import type { Db } from '../store/open-store.js';
import { DeploymentRepository } from '../store/repositories/deployments.js';
import type { JobRecord } from '../store/repositories/jobs.js';
import { repositories } from '../store/repositories.js';

/**
 * Records the deployment of a job with `environment: { action: start }` (the default action), as
 * GitLab creates one with each deployment job and each retry of it; `prepare`, `verify`, `access`
 * and `stop` jobs deploy nothing. Call inside the transaction that creates the job. Answers
 * whether a deployment was recorded.
 */
export async function recordDeployment(
  tx: Db,
  job: Pick<JobRecord<PlannedJob>, 'id' | 'projectId' | 'spec'>,
  pipeline: { ref: string; sha: string },
  now: number,
): Promise<boolean> {
  const environment = job.spec.environment;
  if (environment?.action !== 'start') return false;
  const stored = await repositories(tx).protection.findEnvironment(job.projectId, environment.name);
  if (!stored) return false;
  await new DeploymentRepository(tx).create({
    projectId: job.projectId,
    environmentId: stored.id,
    jobId: job.id,
    ref: pipeline.ref,
    sha: pipeline.sha,
    createdAt: now,
  });
  return true;
}
