import type { PlannedJob } from '../pipeline/plan.js';
import type { Db } from '../store/open-store.js';
import { DeploymentRepository } from '../store/repositories/deployments.js';
import type { JobRecord } from '../store/repositories/jobs.js';
import type { EnvironmentRecord } from '../store/repositories/protection.js';
import { repositories } from '../store/repositories.js';

type EnvironmentChanges = Partial<
  Pick<EnvironmentRecord, 'externalUrl' | 'tier' | 'state' | 'autoStopAt' | 'updatedAt'>
>;

/**
 * What a job with `environment:` that has just ended does to its environment, as GitLab's
 * deployment and stop-job workers:
 * - a deployment (`action: start`) that succeeded makes the environment `available` (also after a
 *   stop), renews its URL and tier from the job, and its auto-stop time from the job's
 *   `auto_stop_in` (`never` clears it; a job without it keeps the time it had);
 * - a stop job (`action: stop`) that succeeded stops it; one that failed puts a `stopping`
 *   environment back to `available` (GitLab's `recover_stuck_stopping`);
 * - a `prepare` or `access` job that succeeded renews the auto-stop time with the `auto_stop_in` of
 *   the environment's last successful deployment; `verify` changes nothing.
 *
 * Call inside the transaction that ended the job.
 */
export async function settleEnvironment(
  tx: Db,
  job: JobRecord<PlannedJob>,
  status: 'success' | 'failed',
  now: number,
): Promise<void> {
  const spec = job.spec.environment;
  if (!spec) return;
  const repos = repositories(tx);
  const environment = await repos.protection.findEnvironment(job.projectId, spec.name);
  if (!environment) return;
  let changes: EnvironmentChanges | null = null;
  switch (spec.action) {
    case 'start':
      if (status !== 'success') break;
      changes = {
        state: 'available',
        externalUrl: spec.url ?? environment.externalUrl,
        tier: spec.deploymentTier ?? environment.tier,
        autoStopAt: autoStopAfter(spec.autoStopInSeconds, environment.autoStopAt, now),
      };
      break;
    case 'stop':
      if (status === 'success' && environment.state !== 'stopped') {
        changes = { state: 'stopped', autoStopAt: null };
      } else if (status === 'failed' && environment.state === 'stopping') {
        changes = { state: 'available' };
      }
      break;
    case 'prepare':
    case 'access': {
      if (status !== 'success' || environment.state !== 'available') break;
      const last = await new DeploymentRepository(tx).lastSuccessful(environment.id);
      // A deployment made through the API has no job, hence no auto_stop_in to renew with.
      const deployer = last?.jobId != null ? await repos.jobs.findById<PlannedJob>(last.jobId) : undefined;
      const seconds = deployer?.spec.environment?.autoStopInSeconds;
      if (typeof seconds === 'number') changes = { autoStopAt: now + seconds * 1000 };
      break;
    }
    default:
      break;
  }
  if (changes !== null)
    await repos.protection.updateEnvironment(environment.id, { ...changes, updatedAt: now });
}

/** The auto-stop time after a successful deployment: its `auto_stop_in`, `never` (null), or as it was. */
function autoStopAfter(
  seconds: number | null | undefined,
  current: number | null,
  now: number,
): number | null {
  if (seconds === undefined) return current;
  return seconds === null ? null : now + seconds * 1000;
}

/**
 * What a deployment made through the API does to its environment when it succeeds, as GitLab's
 * deployment success worker with no job: a stopped or stopping environment becomes `available`
 * again; its URL, tier and auto-stop time stay as they are (they come from a job's `environment:`).
 * Call inside the transaction that recorded the status.
 */
export async function settleExternalDeployment(tx: Db, environmentId: number, now: number): Promise<void> {
  await tx
    .updateTable('environments')
    .set({ state: 'available', updatedAt: now })
    .where('id', '=', environmentId)
    .where('state', 'in', ['stopped', 'stopping'])
    .execute();
}
