import { basename } from 'node:path';
import { ACCESS_LEVELS } from '../coordinator/access-level.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';
import { repositories } from '../store/repositories.js';
import { DEFAULT_SUB_CLAIM_COMPONENTS } from '../token/subject.js';
import type { WorkingCopy } from './working-copy.js';

/** The group every locally run project lives in: its tokens say `project_path: local/<name>`. */
export const LOCAL_GROUP = 'local';

/** The project a local run created, and the instance admin who runs its pipeline. */
export interface LocalProject {
  readonly project: ProjectRecord;
  readonly user: UserRecord;
}

/** A GitLab-valid path from a directory name (`My Repo.git` → `my-repo`). */
export function projectPathFor(directory: string): string {
  const path = basename(directory)
    .toLowerCase()
    .replace(/\.(git|atom)$/, '')
    .replace(/[^a-z0-9_.-]+/g, '-')
    .replace(/^[.-]+|[.-]+$/g, '');
  return path === '' ? 'project' : path;
}

/**
 * Creates, in the embedded coordinator's store, the group `local` (owned by the admin `root`, as
 * `POST /groups` would) and a private project with the API's defaults whose repository is the
 * working copy's path: the coordinator and the runner read it with git like any remote.
 */
export async function registerProject(
  coordinator: Coordinator,
  workingCopy: WorkingCopy,
): Promise<LocalProject> {
  const user = await coordinator.repos.users.findByUsername('root');
  if (!user) throw new TypeError('the embedded coordinator has no admin user');
  const path = projectPathFor(workingCopy.root);
  const now = coordinator.clock();
  const project = await coordinator.store.transaction(async (tx) => {
    const repos = repositories(tx);
    const group = await repos.groups.create({
      name: LOCAL_GROUP,
      path: LOCAL_GROUP,
      fullPath: LOCAL_GROUP,
      parentId: null,
      visibility: 'private',
      createdAt: now,
    });
    await repos.members.upsert({
      sourceType: 'group',
      sourceId: group.id,
      userId: user.id,
      accessLevel: ACCESS_LEVELS.owner,
      createdAt: now,
    });
    return repos.projects.create({
      name: path,
      path,
      namespaceId: group.id,
      pathWithNamespace: `${LOCAL_GROUP}/${path}`,
      visibility: 'private',
      repositoryUrl: workingCopy.root,
      defaultBranch: workingCopy.defaultBranch,
      ciConfigPath: '.gitlab-ci.yml',
      subClaimComponents: [...DEFAULT_SUB_CLAIM_COMPONENTS],
      allowedAudiences: null,
      tokenMaxLifetime: null,
      jobTimeout: null,
      createdAt: now,
      updatedAt: now,
    });
  });
  return { project, user };
}
