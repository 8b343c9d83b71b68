import { TesseraError } from '../errors.js';
import { DeploymentRepository } from '../store/repositories/deployments.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { Coordinator } from './coordinator.js';

/**
 * Deletes a deployment, of a job or not, as GitLab's deployment destroy service: never a running
 * one, nor the one its environment is deployed with (its `last_deployment`). The checks and the
 * delete share one transaction.
 *
 * @throws TesseraError `ERR_NOT_FOUND`, `ERR_DEPLOYMENT_RUNNING` or `ERR_DEPLOYMENT_LAST`.
 */
export async function deleteDeployment(
  coordinator: Coordinator,
  project: ProjectRecord,
  deploymentId: number,
): Promise<void> {
  await coordinator.store.transaction(async (tx) => {
    const deployments = new DeploymentRepository(tx);
    const row = await deployments.findById(project.id, deploymentId);
    if (!row) throw new TesseraError('ERR_NOT_FOUND', `deployment ${deploymentId} not found`);
    if (row.status === 'running') {
      throw new TesseraError(
        'ERR_DEPLOYMENT_RUNNING',
        `Cannot destroy running deployment: deployment ${row.id} is running; wait until it ends`,
      );
    }
    if ((await deployments.lastSuccessful(row.environmentId))?.id === row.id) {
      throw new TesseraError(
        'ERR_DEPLOYMENT_LAST',
        `Deployment currently deployed to environment: deployment ${row.id} is the last successful deployment of ${row.environmentName}`,
      );
    }
    await deployments.delete(row.id);
  });
}
