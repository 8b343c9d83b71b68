import { isTesseraError } from '../errors.js';
import { DeploymentRepository } from '../store/repositories/deployments.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';
import type { Coordinator } from './coordinator.js';
import { stopEnvironment } from './stop-environment.js';

/**
 * What GitLab does when a push deletes a branch: stops every `available` environment of the
 * project whose last successful deployment was from that branch, as the stop API does for the
 * pusher (`user`; for a pull mirror, its mirror user). An environment whose stop job that user may
 * not run stays as it is. Answers the ids of the environments it stopped (or set stopping).
 */
export async function stopBranchEnvironments(
  coordinator: Coordinator,
  project: ProjectRecord,
  user: UserRecord,
  branch: string,
): Promise<number[]> {
  const deployments = new DeploymentRepository(coordinator.store.db);
  const stopped: number[] = [];
  const available = await coordinator.store.db
    .selectFrom('environments')
    .selectAll()
    .where('projectId', '=', project.id)
    .where('state', '=', 'available')
    .orderBy('id')
    .execute();
  for (const environment of available) {
    const last = await deployments.lastSuccessful(environment.id);
    if (last?.ref !== branch) continue;
    try {
      if ((await stopEnvironment(coordinator, environment, { actor: { user, project } })).changed)
        stopped.push(environment.id);
    } catch (error) {
      if (!isTesseraError(error) || error.status !== 403) throw error;
    }
  }
  return stopped;
}
