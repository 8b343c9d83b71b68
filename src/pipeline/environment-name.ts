import { expandVariables } from './expand-variables.js';

// GitLab's rule for environment names; in the YAML `$`, `{` and `}` also let variables through.
const WRITTEN_NAME = /^[a-zA-Z0-9 \-_/${}.]+$/;
const EXPANDED_NAME = /^[a-zA-Z0-9 \-_/.]+$/;

/** What {@link isEnvironmentName} accepts, for messages. */
export const ENVIRONMENT_NAME_RULE =
  'an environment name has 1 to 255 letters, digits, spaces and - _ / ., and does not start or end with /';

/**
 * Whether `name` is a valid environment name (GitLab's rule): as written in the YAML
 * (`expanded: false`, where `$`, `{` and `}` of variable references are allowed too) or once its
 * variables are expanded.
 */
export function isEnvironmentName(name: string, options: { expanded: boolean }): boolean {
  return (
    name.length > 0 &&
    name.length <= 255 &&
    (options.expanded ? EXPANDED_NAME : WRITTEN_NAME).test(name) &&
    !name.startsWith('/') &&
    !name.endsWith('/')
  );
}

/** The variables an environment name is expanded with, lowest precedence first (GitLab's order). */
export interface EnvironmentNameScope {
  /** Predefined variables known when the pipeline is created (`CI_COMMIT_*`, `CI_PROJECT_*`, …). */
  readonly predefined: Readonly<Record<string, string>>;
  /** Global YAML variables (with the matching workflow rule's). */
  readonly pipeline: Readonly<Record<string, string>>;
  /** The job's YAML variables (with its matching rule's). */
  readonly job: Readonly<Record<string, string>>;
  /** Project variables, then the variables the pipeline was created with. */
  readonly project: Readonly<Record<string, string>>;
}

/**
 * Expands the variables of an environment name as GitLab does when it creates the pipeline: with
 * every variable the job has then (predefined, YAML, project, API), but no `CI_ENVIRONMENT_*` and
 * no variable that exists only once the job runs (`CI_JOB_ID`, `CI_PIPELINE_ID`, …); unknown ones
 * become empty. A YAML variable that refers to another is expanded once first, as GitLab expands
 * the job's variables before the name.
 *
 * @example expandEnvironmentName('review/$CI_COMMIT_REF_SLUG', { predefined: { CI_COMMIT_REF_SLUG: 'fix-1' }, pipeline: {}, job: {}, project: {} }) // 'review/fix-1'
 */
export function expandEnvironmentName(name: string, scope: EnvironmentNameScope): string {
  if (!name.includes('$') && !name.includes('%')) return name;
  const raw = { ...scope.predefined, ...scope.pipeline, ...scope.job, ...scope.project };
  const values: Record<string, string> = { ...raw };
  for (const layer of [scope.pipeline, scope.job]) {
    for (const [key, value] of Object.entries(layer)) {
      if (raw[key] === value) values[key] = expandVariables(value, raw);
    }
  }
  return expandVariables(name, values);
}

/** `CI_ENVIRONMENT_SLUG`: the name lowercased, other characters as `-`, at most 24 characters. */
export function environmentSlug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 24)
    .replace(/^-+|-+$/g, '');
}
