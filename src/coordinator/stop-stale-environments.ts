import { isTesseraError } from '../errors.js';
import { DeploymentRepository } from '../store/repositories/deployments.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';
import type { Coordinator } from './coordinator.js';
import { stopEnvironment } from './stop-environment.js';

/** What {@link stopStaleEnvironments} did. */
export interface StaleStop {
  /** Environments it stopped (or set stopping). */
  readonly stopped: number;
  /** Stale environments left as they were because the user may not run their stop jobs. */
  readonly refused: number;
}

/**
 * `POST /projects/:id/environments/stop_stale` (GitLab's stop-stale service): stops every
 * `available` environment of the project that was neither changed nor deployed to since `before`,
 * except protected environments, as the stop API does for `user`. An environment whose stop job
 * the user may not run (a protected ref) stays as it is and is counted in `refused`.
 */
export async function stopStaleEnvironments(
  coordinator: Coordinator,
  project: ProjectRecord,
  user: UserRecord,
  before: number,
): Promise<StaleStop> {
  const db = coordinator.store.db;
  const protectedNames = db
    .selectFrom('protectedEnvironments')
    .select('name')
    .where('projectId', '=', project.id);
  const candidates = await db
    .selectFrom('environments')
    .selectAll()
    .where('projectId', '=', project.id)
    .where('state', '=', 'available')
    .where((eb) => eb(eb.fn.coalesce('updatedAt', 'createdAt'), '<', before))
    .where('name', 'not in', protectedNames)
    .orderBy('id')
    .execute();
  const deployments = new DeploymentRepository(db);
  let stopped = 0;
  let refused = 0;
  for (const environment of candidates) {
    if (await deployments.activeSince(environment.id, before)) continue;
    try {
      if ((await stopEnvironment(coordinator, environment, { actor: { user, project } })).changed)
        stopped += 1;
    } catch (error) {
      if (!isTesseraError(error) || error.status !== 403) throw error;
      refused += 1;
    }
  }
  return { stopped, refused };
}
