import { isTesseraError } from '../errors.js';
import {
  IncludeSourceError,
  type IncludeSources,
  type ProjectSnapshot,
} from '../pipeline/include-sources.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';
import { ACCESS_LEVELS } from './access-level.js';
import type { Coordinator } from './coordinator.js';
import { gitReader } from './create-pipeline.js';
import { projectAccessLevel } from './permissions.js';

const COMMIT_SHA = /^[0-9a-f]{40}$|^[0-9a-f]{64}$/;

/**
 * Whether `user` may read the repository of `project` (GitLab's `download_code`): admins always,
 * anyone signed in for a public or internal project, the Reporter role or higher for a private one.
 */
export async function mayReadRepository(
  coordinator: Coordinator,
  user: UserRecord,
  project: ProjectRecord,
): Promise<boolean> {
  if (user.isAdmin || project.visibility === 'public' || project.visibility === 'internal') return true;
  return ((await projectAccessLevel(coordinator, user.id, project)) ?? 0) >= ACCESS_LEVELS.reporter;
}

/**
 * The {@link IncludeSources} of one configuration read on behalf of `user` (the pipeline's user,
 * or the lint API's caller): projects of this instance read with git at a branch, tag or commit,
 * each project and ref resolved once per read. A project the user may not read gets the very
 * answer a missing one gets, so an include cannot probe which private projects exist. Its
 * `anonymous` sources read public projects only: GitLab reads the includes of a file fetched with
 * `include:remote` without a user.
 */
export function includeSourcesFor(
  coordinator: Coordinator,
  user: UserRecord,
  options: { readArtifact?: (job: string, path: string) => Promise<string> } = {},
): IncludeSources {
  const git = gitReader(coordinator);
  const anonymous = projectSources(
    coordinator,
    git,
    async (project) => project.visibility === 'public',
    (path) =>
      `project "${path}" not found, or not public (the includes of a file from include:remote are read as an anonymous user, who sees public projects only)`,
  );
  return {
    ...projectSources(
      coordinator,
      git,
      (project) => mayReadRepository(coordinator, user, project),
      (path) => `project "${path}" not found, or ${user.username} may not read it`,
    ),
    anonymous,
    ...(options.readArtifact === undefined ? {} : { readArtifact: options.readArtifact }),
  };
}

/**
 * Projects of this instance as one reader sees them: `mayRead` decides, and `hidden` is the one
 * message for a project that is missing or that the reader may not see.
 */
function projectSources(
  coordinator: Coordinator,
  git: ReturnType<typeof gitReader>,
  mayRead: (project: ProjectRecord) => Promise<boolean>,
  hidden: (path: string) => string,
): IncludeSources {
  const projects = new Map<string, Promise<ProjectRecord>>();
  const snapshots = new Map<string, Promise<ProjectSnapshot>>();
  const readable = (path: string): Promise<ProjectRecord> => {
    let found = projects.get(path);
    if (found === undefined) {
      found = (async () => {
        const project = await coordinator.repos.projects.findByPath(path);
        if (project === undefined || !(await mayRead(project))) throw new IncludeSourceError(hidden(path));
        return project;
      })();
      projects.set(path, found);
    }
    return found;
  };
  const open = async (path: string, ref: string | null): Promise<ProjectSnapshot> => {
    const project = await readable(path);
    const name = ref ?? project.defaultBranch;
    try {
      let sha: string;
      let cache: string;
      if (COMMIT_SHA.test(name)) {
        sha = name;
        cache = await git.fetchCommit(project.repositoryUrl, name);
      } else {
        const resolved = await git.resolveRef(project.repositoryUrl, name);
        sha = resolved.sha;
        cache = await git.fetch(project.repositoryUrl, resolved);
      }
      // One listing per (project, ref), whether wildcards, include:rules:exists or a job's
      // rules:exists:project asks.
      let listing: Promise<readonly string[]> | undefined;
      return {
        project: project.pathWithNamespace,
        ref: name,
        sha,
        readLocalFile: (file) => git.readFile(cache, sha, file),
        listLocalFiles: () => {
          listing ??= git.listFiles(cache, sha);
          return listing;
        },
      };
    } catch (error) {
      if (!isTesseraError(error)) throw error;
      if (error.code === 'ERR_GIT_REF_NOT_FOUND')
        throw new IncludeSourceError(`project "${path}" has no branch, tag or commit "${name}"`);
      throw new IncludeSourceError(`cannot read project "${path}" at "${name}": ${error.message}`);
    }
  };
  const serverUrl = new URL(coordinator.urls.serverUrl);
  return {
    serverHosts: [...new Set([serverUrl.host, serverUrl.hostname])],
    openProject(path, ref) {
      const key = `${path}\u0000${ref ?? ''}`;
      let snapshot = snapshots.get(key);
      if (snapshot === undefined) {
        snapshot = open(path, ref);
        snapshots.set(key, snapshot);
      }
      return snapshot;
    },
    async listTags(path) {
      const project = await readable(path);
      try {
        const refs = await git.listRefs(project.repositoryUrl);
        return [...refs.keys()]
          .filter((name) => name.startsWith('refs/tags/'))
          .map((name) => name.slice('refs/tags/'.length));
      } catch (error) {
        if (!isTesseraError(error)) throw error;
        throw new IncludeSourceError(`cannot list the tags of project "${path}": ${error.message}`);
      }
    },
  };
}
