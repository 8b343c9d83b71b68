import { environmentSlug, expandEnvironmentName, isEnvironmentName } from './environment-name.js';
import type { PlannedJob } from './plan.js';

/** What {@link isResourceGroupKey} accepts, for messages. */
export const RESOURCE_GROUP_KEY_RULE =
  'a resource group key has 1 to 255 letters, digits, spaces and - _ / . $ { }, and does not start or end with /';

/**
 * Whether `key` may name a resource group once its variables are expanded: GitLab validates a
 * group's key with its environment-name rule as written in YAML (`$`, `{` and `}` stay allowed).
 */
export function isResourceGroupKey(key: string): boolean {
  return isEnvironmentName(key, { expanded: false });
}

/** What a resource group key is expanded with, besides the job itself (see {@link expandResourceGroupKey}). */
export interface ResourceGroupKeyScope {
  /** Predefined variables known when the pipeline is created (`CI_COMMIT_*`, `CI_PROJECT_*`, `CI_PIPELINE_IID`, …). */
  readonly predefined: Readonly<Record<string, string>>;
  /** Global YAML variables (with the matching workflow rule's). */
  readonly pipeline: Readonly<Record<string, string>>;
  /** Instance, group and project CI/CD variables, then the variables the pipeline was created with. */
  readonly project: Readonly<Record<string, string>>;
  /** Who creates the pipeline (`GITLAB_USER_*`). */
  readonly user: {
    readonly id: number;
    readonly username: string;
    readonly email: string;
    readonly name: string;
  };
  /**
   * The tier of the job's environment when the job writes no `deployment_tier`: the stored
   * environment's, else the one guessed from its name (what the pipeline stores for it).
   */
  readonly environmentTier?: string;
}

/** `CI_JOB_NAME_SLUG`: the name lowercased, other characters as `-`, at most 63 characters. */
function jobNameSlug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 63)
    .replace(/^-+|-+$/g, '');
}

/**
 * Expands the variables of job `job`'s `resource_group` as GitLab does when it creates the
 * pipeline (its `EnsureResourceGroups` step), with the job's variables that do not depend on its
 * environment: the predefined pipeline and job ones (`CI_COMMIT_REF_SLUG`, `CI_JOB_NAME`,
 * `CI_JOB_STAGE`, `CI_NODE_TOTAL`, `GITLAB_USER_LOGIN`, …), the global and job YAML variables,
 * the instance, group and project CI/CD variables and the pipeline's own, and then
 * `CI_ENVIRONMENT_NAME`, `CI_ENVIRONMENT_SLUG` and `CI_ENVIRONMENT_TIER` of the job's environment
 * (its name already expanded). Nothing that exists only once the job runs (`CI_JOB_ID`,
 * `CI_PIPELINE_ID`, `CI_ENVIRONMENT_URL`); unknown variables become empty. `job.environment.name`
 * must be expanded already. Answers `null` for a job with no `resource_group`.
 *
 * @example expandResourceGroupKey({ ...job, resourceGroup: 'deploy-$CI_COMMIT_REF_SLUG' }, scope) // 'deploy-main'
 */
export function expandResourceGroupKey(job: PlannedJob, scope: ResourceGroupKeyScope): string | null {
  const written = job.resourceGroup;
  if (written == null) return null;
  if (!written.includes('$') && !written.includes('%')) return written;
  const jobPredefined: Record<string, string> = {
    CI_JOB_NAME: job.name,
    CI_JOB_NAME_SLUG: jobNameSlug(job.name),
    CI_JOB_STAGE: job.stage,
    CI_NODE_TOTAL: String(job.parallel?.total ?? 1),
    GITLAB_USER_ID: String(scope.user.id),
    GITLAB_USER_EMAIL: scope.user.email,
    GITLAB_USER_LOGIN: scope.user.username,
    GITLAB_USER_NAME: scope.user.name,
  };
  if (job.parallel) jobPredefined.CI_NODE_INDEX = String(job.parallel.index);
  if (job.when === 'manual') jobPredefined.CI_JOB_MANUAL = 'true';
  // inherit:variables false (or a list) keeps the global YAML variables (or the others) from the job.
  const inherit = job.inheritVariables ?? true;
  const pipeline =
    inherit === true
      ? scope.pipeline
      : Object.fromEntries(
          Object.entries(scope.pipeline).filter(([key]) => inherit !== false && inherit.includes(key)),
        );
  // GitLab adds the persisted environment's variables last, over everything else.
  const environment: Record<string, string> = job.environment
    ? {
        CI_ENVIRONMENT_NAME: job.environment.name,
        CI_ENVIRONMENT_SLUG: environmentSlug(job.environment.name),
        CI_ENVIRONMENT_TIER: job.environment.deploymentTier ?? scope.environmentTier ?? 'other',
      }
    : {};
  return expandEnvironmentName(written, {
    predefined: { ...scope.predefined, ...jobPredefined },
    pipeline,
    job: job.variables,
    project: { ...scope.project, ...environment },
  });
}
