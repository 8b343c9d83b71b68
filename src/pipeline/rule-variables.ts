/** Pipeline sources GitLab knows, as `CI_PIPELINE_SOURCE` spells them. */
export const PIPELINE_SOURCES = [
  'push',
  'web',
  'api',
  'trigger',
  'schedule',
  'merge_request_event',
  'external_pull_request_event',
  'pipeline',
  'parent_pipeline',
  'chat',
  'external',
  'webide',
  'ondemand_dast_scan',
  'ondemand_dast_validation',
  'security_orchestration_policy',
] as const;

/** One of {@link PIPELINE_SOURCES}. */
export type PipelineSource = (typeof PIPELINE_SOURCES)[number];

/** What a pipeline is for: the inputs of {@link buildRuleVariables}. */
export interface RuleVariableInput {
  /** Branch or tag name, without `refs/heads/` or `refs/tags/`. */
  readonly ref: string;
  /** Whether `ref` is a tag. */
  readonly tag: boolean;
  readonly source: PipelineSource;
  /** The project's default branch (`main` when unknown). */
  readonly defaultBranch?: string;
  /** Whether the ref is protected (`CI_COMMIT_REF_PROTECTED`). */
  readonly refProtected?: boolean;
  /** Full project path such as `acme/platform/api`. */
  readonly projectPath?: string;
  readonly projectId?: string;
  readonly projectVisibility?: 'private' | 'internal' | 'public';
  /** Server URL without a trailing slash, such as `https://ci.example.com`. */
  readonly serverUrl?: string;
  readonly sha?: string;
  readonly beforeSha?: string;
  readonly commitMessage?: string;
  readonly commitAuthor?: string;
  readonly tagMessage?: string;
  readonly pipelineId?: string;
  readonly userLogin?: string;
  readonly configPath?: string;
}

/** `CI_COMMIT_REF_SLUG` as GitLab makes it: lowercase, non-alphanumerics to `-`, 63 characters, no `-` at the ends. */
export function refSlug(ref: string): string {
  return ref
    .toLowerCase()
    .replaceAll(/[^a-z0-9]/g, '-')
    .slice(0, 63)
    .replaceAll(/^-+|-+$/g, '');
}

/**
 * The predefined variables that rules (`workflow:rules`, `rules:if`, `only`/`except`) can see when a
 * pipeline is created, with GitLab's names and rules of presence: `CI_COMMIT_BRANCH` only for
 * branch pipelines (not tags, not merge request pipelines), `CI_COMMIT_TAG` only for tags, and so
 * on. Variables whose value is unknown are left out, not set to an empty string, because
 * `$VAR == null` and bare `$VAR` tell those apart. Job-level ones (`CI_JOB_*`) are not here: rules
 * run before a job exists.
 */
export function buildRuleVariables(input: RuleVariableInput): Record<string, string> {
  const variables: Record<string, string> = {
    CI: 'true',
    GITLAB_CI: 'true',
    CI_COMMIT_REF_NAME: input.ref,
    CI_COMMIT_REF_SLUG: refSlug(input.ref),
    CI_COMMIT_REF_PROTECTED: input.refProtected === true ? 'true' : 'false',
    CI_PIPELINE_SOURCE: input.source,
    CI_DEFAULT_BRANCH: input.defaultBranch ?? 'main',
    CI_CONFIG_PATH: input.configPath ?? '.gitlab-ci.yml',
  };
  if (input.tag) {
    variables.CI_COMMIT_TAG = input.ref;
    if (input.tagMessage !== undefined) variables.CI_COMMIT_TAG_MESSAGE = input.tagMessage;
  } else if (input.source !== 'merge_request_event') {
    variables.CI_COMMIT_BRANCH = input.ref;
  }
  if (input.source === 'trigger' || input.source === 'pipeline') variables.CI_PIPELINE_TRIGGERED = 'true';
  if (input.projectPath !== undefined) {
    const slash = input.projectPath.lastIndexOf('/');
    variables.CI_PROJECT_PATH = input.projectPath;
    variables.CI_PROJECT_PATH_SLUG = refSlug(input.projectPath);
    variables.CI_PROJECT_NAME = input.projectPath.slice(slash + 1);
    variables.CI_PROJECT_NAMESPACE = slash < 0 ? '' : input.projectPath.slice(0, slash);
    if (input.serverUrl !== undefined) variables.CI_PROJECT_URL = `${input.serverUrl}/${input.projectPath}`;
  }
  if (input.projectId !== undefined) variables.CI_PROJECT_ID = input.projectId;
  if (input.projectVisibility !== undefined) variables.CI_PROJECT_VISIBILITY = input.projectVisibility;
  if (input.serverUrl !== undefined) {
    variables.CI_SERVER_URL = input.serverUrl;
    try {
      const url = new URL(input.serverUrl);
      variables.CI_SERVER_HOST = url.hostname;
      // GitLab's FQDN carries the port when it is not the protocol's own (what component paths start with).
      variables.CI_SERVER_FQDN = url.host;
      variables.CI_SERVER_PROTOCOL = url.protocol.replace(':', '');
    } catch {
      // A malformed server URL only loses the derived variables.
    }
  }
  if (input.sha !== undefined) {
    variables.CI_COMMIT_SHA = input.sha;
    variables.CI_COMMIT_SHORT_SHA = input.sha.slice(0, 8);
  }
  if (input.beforeSha !== undefined) variables.CI_COMMIT_BEFORE_SHA = input.beforeSha;
  if (input.commitMessage !== undefined) {
    variables.CI_COMMIT_MESSAGE = input.commitMessage;
    variables.CI_COMMIT_TITLE = input.commitMessage.split('\n')[0] ?? '';
    variables.CI_COMMIT_DESCRIPTION = input.commitMessage.split('\n').slice(1).join('\n').trim();
  }
  if (input.commitAuthor !== undefined) variables.CI_COMMIT_AUTHOR = input.commitAuthor;
  if (input.pipelineId !== undefined) variables.CI_PIPELINE_ID = input.pipelineId;
  if (input.userLogin !== undefined) variables.GITLAB_USER_LOGIN = input.userLogin;
  return variables;
}
