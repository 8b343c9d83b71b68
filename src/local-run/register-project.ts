import { basename } from 'node:path';
import type { LocalApi } from './local-api.js';
import type { WorkingCopy } from './working-copy.js';

/** The group every locally run project lives in: its tokens say `project_path: local/<name>`. */
export const LOCAL_GROUP = 'local';

/** The project a local run created. */
export interface LocalProject {
  readonly id: number;
  /** `local/<directory name>`, the tokens' `project_path`. */
  readonly pathWithNamespace: string;
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
 * Creates the group `local` and a project whose repository is the working copy's path (the
 * coordinator and the runner read it with git like any remote), through the API v4.
 */
export async function registerProject(api: LocalApi, workingCopy: WorkingCopy): Promise<LocalProject> {
  const group = await api.request<{ id: number }>('POST', '/groups', {
    name: LOCAL_GROUP,
    path: LOCAL_GROUP,
  });
  const path = projectPathFor(workingCopy.root);
  const project = await api.request<{ id: number; path_with_namespace: string }>('POST', '/projects', {
    name: path,
    path,
    namespace_id: group.id,
    repository_url: workingCopy.root,
    default_branch: workingCopy.defaultBranch,
  });
  return { id: project.id, pathWithNamespace: project.path_with_namespace };
}
