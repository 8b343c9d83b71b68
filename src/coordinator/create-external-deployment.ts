import { TesseraError } from '../errors.js';
import {
  DeploymentRepository,
  type DeploymentRow,
  type ExternalDeploymentStatus,
} from '../store/repositories/deployments.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';
import { repositories } from '../store/repositories.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import type { Coordinator } from './coordinator.js';
import { environmentRefusal } from './create-pipeline.js';
import { guessTier } from './deployment-tier.js';
import { settleExternalDeployment } from './settle-environment.js';

/** What an external tool says it deployed (GitLab's `POST /projects/:id/deployments`). */
export interface ExternalDeploymentInput {
  readonly environment: string;
  readonly sha: string;
  readonly ref: string;
  readonly tag: boolean;
  readonly status: ExternalDeploymentStatus;
}

/**
 * Records a deployment made by an external tool, without a job, as GitLab's create service: the
 * environment is found by name or created (`available`, its tier guessed from the name), the
 * deployment gets the next `iid`, `user` as its deployer and `status` (a finished one its
 * `finished_at`), and a successful one makes a stopped environment available again. Deploying to a
 * protected environment needs its deploy access level, checked before anything is written.
 *
 * @throws TesseraError `ERR_ENVIRONMENT_PROTECTED` when `user` may not deploy to the environment.
 */
export async function createExternalDeployment(
  coordinator: Coordinator,
  project: ProjectRecord,
  user: UserRecord,
  input: ExternalDeploymentInput,
): Promise<DeploymentRow> {
  const refusal = await environmentRefusal(
    coordinator,
    coordinator.store.db,
    project,
    user,
    input.environment,
  );
  if (refusal) throw new TesseraError('ERR_ENVIRONMENT_PROTECTED', refusal);
  const now = coordinator.clock();
  const record = () =>
    coordinator.store.transaction(async (tx) => {
      const repos = repositories(tx);
      const environment =
        (await repos.protection.findEnvironment(project.id, input.environment)) ??
        (await repos.protection.createEnvironment({
          projectId: project.id,
          name: input.environment,
          externalUrl: null,
          tier: guessTier(input.environment),
          state: 'available',
          createdAt: now,
        }));
      const finished = input.status !== 'running';
      const deployment = await new DeploymentRepository(tx).create({
        projectId: project.id,
        environmentId: environment.id,
        jobId: null,
        ref: input.ref,
        sha: input.sha,
        createdAt: now,
        status: input.status,
        userId: user.id,
        tag: input.tag ? 1 : 0,
        finishedAt: finished ? now : null,
        updatedAt: now,
      });
      if (input.status === 'success') await settleExternalDeployment(tx, environment.id, now);
      return deployment.id;
    });
  let id: number;
  try {
    id = await record();
  } catch (error) {
    // Another request created the environment (or took the iid) first: the second try finds it.
    if (!isUniqueViolation(error)) throw error;
    id = await record();
  }
  const row = await new DeploymentRepository(coordinator.store.db).findById(project.id, id);
  if (!row) throw new TypeError(`deployment ${id} vanished after it was created`);
  return row;
}
