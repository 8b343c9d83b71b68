import { TesseraError } from '../errors.js';
import type { GroupRecord } from '../store/repositories/groups.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';
import { ACCESS_LEVELS, accessLevelDescription } from './access-level.js';
import type { Coordinator } from './coordinator.js';

/**
 * The user's role on a group: the highest of their memberships on the group and its ancestors
 * (roles are inherited down the tree), or null. `knownLineage`: the group and its ancestors, when
 * the caller has read them already.
 */
export async function groupAccessLevel(
  coordinator: Coordinator,
  userId: number,
  groupId: number,
  knownLineage?: readonly GroupRecord[],
): Promise<number | null> {
  const lineage = knownLineage ?? (await coordinator.repos.groups.lineage(groupId));
  const memberships = await coordinator.repos.members.forUserInGroups(
    userId,
    lineage.map((group) => group.id),
  );
  return memberships.reduce<number | null>(
    (best, m) => (best === null || m.accessLevel > best ? m.accessLevel : best),
    null,
  );
}

/**
 * The user's role on a project: the highest of the project membership and the memberships on its
 * group and the group's ancestors, or null. This is the value of the `user_access_level` claim.
 * `knownLineage`: the project's group and its ancestors, when the caller has read them already.
 */
export async function projectAccessLevel(
  coordinator: Coordinator,
  userId: number,
  project: ProjectRecord,
  knownLineage?: readonly GroupRecord[],
): Promise<number | null> {
  const lineage = knownLineage ?? (await coordinator.repos.groups.lineage(project.namespaceId));
  // The project membership and those on its group and the group's ancestors, in one statement.
  const memberships = await coordinator.repos.members.forUserOnProject(
    userId,
    project.id,
    lineage.map((group) => group.id),
  );
  return memberships.reduce<number | null>(
    (best, m) => (best === null || m.accessLevel > best ? m.accessLevel : best),
    null,
  );
}

/** The level used for permission checks: admins act as owners everywhere. */
async function effectiveProjectLevel(
  coordinator: Coordinator,
  user: UserRecord,
  project: ProjectRecord,
): Promise<number> {
  if (user.isAdmin) return ACCESS_LEVELS.owner;
  return (await projectAccessLevel(coordinator, user.id, project)) ?? 0;
}

/**
 * The project `:id` names: GitLab accepts a numeric id or the URL-encoded full path (`acme%2Fapi`)
 * wherever `:id` appears. An id past int32 names no project (rather than a database error).
 */
export async function findProjectByIdOrPath(
  coordinator: Coordinator,
  id: number | string,
): Promise<ProjectRecord | undefined> {
  if (typeof id === 'number' || /^\d+$/.test(id)) {
    return Number(id) <= 2147483647 ? coordinator.repos.projects.findById(Number(id)) : undefined;
  }
  return coordinator.repos.projects.findByPath(id);
}

/**
 * Loads project `id` for `user` and checks that their role is at least `minimum`.
 *
 * @throws TesseraError `ERR_NOT_FOUND` when the project does not exist or the user may not see it
 *   (a private project is not revealed to non-members), `ERR_FORBIDDEN` naming the role needed.
 */
export async function requireProject(
  coordinator: Coordinator,
  user: UserRecord,
  id: number | string,
  minimum: number,
): Promise<{ project: ProjectRecord; level: number }> {
  const project = await findProjectByIdOrPath(coordinator, id);
  if (!project) throw new TesseraError('ERR_NOT_FOUND', `project ${id} not found`);
  const level = await effectiveProjectLevel(coordinator, user, project);
  if (level === 0 && project.visibility === 'private') {
    throw new TesseraError('ERR_NOT_FOUND', `project ${id} not found`);
  }
  if (level < minimum) {
    throw new TesseraError(
      'ERR_FORBIDDEN',
      `this needs the ${accessLevelDescription(minimum).replace(/s$/, '')} role or higher on the project`,
    );
  }
  return { project, level };
}

/** Loads group `id` for `user` and checks their (inherited) role is at least `minimum`. */
export async function requireGroup(
  coordinator: Coordinator,
  user: UserRecord,
  id: number,
  minimum: number,
): Promise<{ group: GroupRecord; level: number }> {
  const group = await coordinator.repos.groups.findById(id);
  if (!group) throw new TesseraError('ERR_NOT_FOUND', `group ${id} not found`);
  const level = user.isAdmin
    ? ACCESS_LEVELS.owner
    : ((await groupAccessLevel(coordinator, user.id, id)) ?? 0);
  if (level === 0 && group.visibility === 'private')
    throw new TesseraError('ERR_NOT_FOUND', `group ${id} not found`);
  if (level < minimum) {
    throw new TesseraError(
      'ERR_FORBIDDEN',
      `this needs the ${accessLevelDescription(minimum).replace(/s$/, '')} role or higher on the group`,
    );
  }
  return { group, level };
}

/** What a caller may read of a project's CI, as GitLab's `read_pipeline` and `read_build`. */
export interface CiReadAccess {
  /** The pipelines themselves: their status, ref and commit, and their jobs' names and statuses. */
  readonly pipelines: boolean;
  /** The jobs: the jobs API, job pages, logs and (as `artifacts:access` allows) artifacts. */
  readonly jobs: boolean;
}

/**
 * What a caller with role `level` on `project` (0: none; the caller may see the project) reads of
 * its CI, by GitLab's `ProjectPolicy` and its "Public pipelines" setting (`public_jobs`, stored as
 * `publicJobs`). Reporters and above read everything. Everyone who may see a public project, and
 * every signed-in user of an internal one, reads its pipelines always, and its jobs only while
 * `public_jobs` is on; a Guest reads both only while it is on (on a private project too). So with
 * `public_jobs: false` a visitor, a non-member and a Guest see pipelines (GitLab: their status)
 * but no job, log or artifact. The API, the web pages and artifact downloads all ask this.
 */
export function ciReadAccess(
  project: Pick<ProjectRecord, 'visibility' | 'publicJobs'>,
  level: number,
  signedIn: boolean,
): CiReadAccess {
  if (level >= ACCESS_LEVELS.reporter) return { pipelines: true, jobs: true };
  const everyone = project.visibility === 'public' || (project.visibility === 'internal' && signedIn);
  const granted = everyone || level >= ACCESS_LEVELS.guest;
  return {
    pipelines: everyone || (granted && project.publicJobs),
    jobs: granted && project.publicJobs,
  };
}

/**
 * Refuses a caller who may not read `what` of the project's CI (see {@link ciReadAccess}): 403,
 * as GitLab's API answers a failed `authorize! :read_build`.
 *
 * @throws TesseraError `ERR_FORBIDDEN` naming the role that reads them.
 */
export function requireCiRead(
  project: Pick<ProjectRecord, 'visibility' | 'publicJobs'>,
  level: number,
  signedIn: boolean,
  what: keyof CiReadAccess,
): void {
  if (ciReadAccess(project, level, signedIn)[what]) return;
  throw new TesseraError(
    'ERR_FORBIDDEN',
    `this project's ${what} are visible to members with the Reporter role or higher (its public_jobs setting is off)`,
  );
}
