import { basename } from 'node:path';
import type { Coordinator } from '../coordinator/coordinator.js';
import { createGroup } from '../coordinator/create-group.js';
import { createProject } from '../coordinator/create-project.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';
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
 * Creates, in the embedded coordinator's store, the group `local` (owned by the admin `root`) and a
 * project with the API's defaults whose repository is the working copy's path: the coordinator and
 * the runner read it with git like any remote. root creates it, as the administrator a local path
 * needs (`TESSERA_REPOSITORY_ALLOW_LOCAL` stays empty in a local run).
 */
export async function registerProject(
  coordinator: Coordinator,
  workingCopy: WorkingCopy,
): Promise<LocalProject> {
  const user = await coordinator.repos.users.findByUsername('root');
  if (!user) throw new TypeError('the embedded coordinator has no admin user');
  const group = await createGroup(coordinator, user, { name: LOCAL_GROUP, path: LOCAL_GROUP });
  const path = projectPathFor(workingCopy.root);
  // root is an administrator: the one kind of user who may give a project a local path.
  const project = await createProject(coordinator, user, {
    name: path,
    path,
    group,
    repositoryUrl: workingCopy.root,
    defaultBranch: workingCopy.defaultBranch,
  });
  return { project, user };
}
