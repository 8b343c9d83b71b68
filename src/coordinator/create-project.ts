import { TesseraError } from '../errors.js';
import type { GroupRecord } from '../store/repositories/groups.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';
import { repositories } from '../store/repositories.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import { DEFAULT_SUB_CLAIM_COMPONENTS, type SubClaimComponent } from '../token/subject.js';
import type { Coordinator } from './coordinator.js';
import { checkDisplayName } from './display-name.js';
import { checkRepositoryUrl } from './repository-url.js';

/** What a new project is made of; what is left out takes the API's default. */
export interface NewProject {
  readonly name: string;
  /** A valid path segment (the caller checks it). */
  readonly path: string;
  readonly group: GroupRecord;
  readonly repositoryUrl: string;
  readonly visibility?: string;
  readonly defaultBranch?: string;
  readonly ciConfigPath?: string;
  readonly subClaimComponents?: readonly SubClaimComponent[];
  readonly allowedAudiences?: string[] | null;
  readonly tokenMaxLifetime?: number | null;
  readonly jobTimeout?: number | null;
  /** GitLab's `public_jobs` (on by default). */
  readonly publicJobs?: boolean;
}

/**
 * Creates a project in `group` (`POST /projects`, and `tessera run`'s project for the working copy)
 * with the API's defaults: private, branch `main`, `.gitlab-ci.yml`, GitLab's `sub` claim parts.
 * The repository URL must pass {@link checkRepositoryUrl} for `creator` (a local path needs an
 * administrator or `repositoryAllowLocal`).
 *
 * @throws TesseraError `ERR_REPOSITORY_URL_BLOCKED`, `ERR_CONFLICT` when the path is taken in the group
 *   (in any case), `ERR_VALIDATION` for a name with control or bidirectional formatting characters.
 */
export async function createProject(
  coordinator: Coordinator,
  creator: Pick<UserRecord, 'isAdmin'>,
  input: NewProject,
): Promise<ProjectRecord> {
  checkDisplayName(input.name, 'name');
  await checkRepositoryUrl(coordinator.config, input.repositoryUrl, creator);
  const pathWithNamespace = `${input.group.fullPath}/${input.path}`;
  const now = coordinator.clock();
  try {
    return await coordinator.store.transaction((tx) =>
      repositories(tx).projects.create({
        name: input.name,
        path: input.path,
        namespaceId: input.group.id,
        pathWithNamespace,
        visibility: input.visibility ?? 'private',
        repositoryUrl: input.repositoryUrl,
        defaultBranch: input.defaultBranch ?? 'main',
        ciConfigPath: input.ciConfigPath ?? '.gitlab-ci.yml',
        subClaimComponents: [...(input.subClaimComponents ?? DEFAULT_SUB_CLAIM_COMPONENTS)],
        allowedAudiences: input.allowedAudiences ?? null,
        tokenMaxLifetime: input.tokenMaxLifetime ?? null,
        jobTimeout: input.jobTimeout ?? null,
        publicJobs: input.publicJobs ?? true,
        createdAt: now,
        updatedAt: now,
      }),
    );
  } catch (error) {
    if (isUniqueViolation(error))
      throw new TesseraError(
        'ERR_CONFLICT',
        `path has already been taken: group ${input.group.fullPath} has a project at "${input.path}" (paths are unique regardless of case)`,
        { details: { field: 'path' } },
      );
    throw error;
  }
}
