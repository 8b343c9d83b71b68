import { TesseraError } from '../errors.js';
import {
  DeploymentRepository,
  type DeploymentRow,
  deploymentTransitionAllowed,
  type ExternalDeploymentStatus,
} from '../store/repositories/deployments.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';
import type { Coordinator } from './coordinator.js';
import { environmentRefusal } from './create-pipeline.js';
import { settleExternalDeployment } from './settle-environment.js';

/**
 * Changes the status of a deployment made through the API, as GitLab's
 * `PUT /projects/:id/deployments/:deployment_id`: a job's deployment follows its job and cannot be
 * changed; `running` only follows `created`, and a status cannot be set again. A deployment that
 * succeeds makes its stopped environment available again. Who may not deploy to a protected
 * environment may not change its deployments either.
 *
 * @throws TesseraError `ERR_NOT_FOUND`, `ERR_ENVIRONMENT_PROTECTED`, `ERR_DEPLOYMENT_HAS_JOB`, or
 *   `ERR_DEPLOYMENT_STATUS_TRANSITION` (also when another request changed the status first).
 */
export async function updateExternalDeployment(
  coordinator: Coordinator,
  project: ProjectRecord,
  user: UserRecord,
  deploymentId: number,
  status: ExternalDeploymentStatus,
): Promise<DeploymentRow> {
  const deployments = new DeploymentRepository(coordinator.store.db);
  const row = await deployments.findById(project.id, deploymentId);
  if (!row) throw new TesseraError('ERR_NOT_FOUND', `deployment ${deploymentId} not found`);
  const refusal = await environmentRefusal(
    coordinator,
    coordinator.store.db,
    project,
    user,
    row.environmentName,
  );
  if (refusal) throw new TesseraError('ERR_ENVIRONMENT_PROTECTED', refusal);
  if (row.jobId !== null) {
    throw new TesseraError(
      'ERR_DEPLOYMENT_HAS_JOB',
      `Deployments created using GitLab CI can not be updated using the API: deployment ${row.id} follows job ${row.jobId}`,
    );
  }
  const refused = (from: string) =>
    new TesseraError(
      'ERR_DEPLOYMENT_STATUS_TRANSITION',
      `status cannot go from ${from} to ${status}: running only follows created, and success, failed or canceled only another status`,
    );
  if (!deploymentTransitionAllowed(row.status, status)) throw refused(row.status);
  const now = coordinator.clock();
  const changed = await coordinator.store.transaction(async (tx) => {
    const stored = await new DeploymentRepository(tx).changeExternalStatus(row.id, row.status, status, now);
    if (stored && status === 'success') await settleExternalDeployment(tx, row.environmentId, now);
    return stored !== undefined;
  });
  const current = await deployments.findById(project.id, row.id);
  if (!current) throw new TesseraError('ERR_NOT_FOUND', `deployment ${deploymentId} not found`);
  if (!changed) throw refused(current.status);
  return current;
}
