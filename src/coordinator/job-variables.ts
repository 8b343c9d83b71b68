import { environmentSlug } from '../pipeline/environment-name.js';
import { buildRuleVariables, type PipelineSource } from '../pipeline/rule-variables.js';
import type { RunnerRecord } from '../store/repositories/runners.js';
import type { UserRecord } from '../store/repositories/users.js';
import type { Coordinator } from './coordinator.js';
import { projectVariablesFor } from './create-pipeline.js';
import type { JobRecords } from './token-context.js';

/** One variable of the job payload, GitLab's `{key, value, public, masked, file}`. */
export interface JobVariable {
  key: string;
  value: string;
  public: boolean;
  masked: boolean;
  file?: boolean;
  raw?: boolean;
}

/** The path of the on-demand endpoint under the API; its URL already has a query string (clients append `&audience=`). */
export const ON_DEMAND_PATH = '/api/v4/job/id_token';

/**
 * An ordered set of job variables where a later `set` of a key replaces the earlier one, so the
 * runner sees each key once, with GitLab's precedence (predefined < YAML < project < pipeline).
 */
export class JobVariables {
  readonly #entries = new Map<string, JobVariable>();

  set(variable: JobVariable): void {
    this.#entries.delete(variable.key);
    this.#entries.set(variable.key, variable);
  }

  setAll(values: Readonly<Record<string, string>>, flags: { public: boolean; masked: boolean }): void {
    for (const [key, value] of Object.entries(values)) this.set({ key, value, ...flags });
  }

  /** Plain key → value, for expanding `aud` and reading `VAULT_*`. */
  values(): Record<string, string> {
    return Object.fromEntries([...this.#entries.values()].map((variable) => [variable.key, variable.value]));
  }

  list(): JobVariable[] {
    return [...this.#entries.values()];
  }
}

/**
 * The variables of a job at pickup, without the secrets of the pickup itself (job token, request
 * token, ID tokens), which the caller adds last so nothing can override them: the predefined
 * variables (DESIGN 5, GitLab's names), the YAML global and job variables, the project variables
 * (protected ones only when the pipeline's ref is protected; masked flag kept), then the
 * variables given when the pipeline was created. `dotenv` (the `reports:dotenv` variables of the
 * jobs it downloads artifacts from) sits between the YAML and the project variables, as GitLab.
 */
export async function buildJobVariables(
  coordinator: Coordinator,
  records: JobRecords,
  runner: RunnerRecord,
  user: UserRecord | undefined,
  startedAt: number,
  dotenv: Readonly<Record<string, string>> = {},
): Promise<JobVariables> {
  const { job, pipeline, project } = records;
  const serverUrl = coordinator.urls.serverUrl;
  const predefined: Record<string, string> = {
    ...buildRuleVariables({
      ref: pipeline.ref,
      tag: pipeline.refType === 'tag',
      source: pipeline.source as PipelineSource,
      defaultBranch: project.defaultBranch,
      refProtected: pipeline.refProtected,
      projectPath: project.pathWithNamespace,
      projectId: String(project.id),
      projectVisibility: project.visibility as 'private' | 'internal' | 'public',
      serverUrl,
      sha: pipeline.sha,
      beforeSha: pipeline.beforeSha,
      pipelineId: String(pipeline.id),
      configPath: pipeline.ciConfigPath,
      ...(user ? { userLogin: user.username } : {}),
    }),
    CI_SERVER: 'yes',
    CI_SERVER_NAME: 'Tessera',
    CI_API_V4_URL: `${serverUrl}/api/v4`,
    CI_PIPELINE_IID: String(pipeline.iid),
    CI_PIPELINE_URL: `${serverUrl}/${project.pathWithNamespace}/-/pipelines/${pipeline.id}`,
    CI_PIPELINE_CREATED_AT: new Date(pipeline.createdAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    CI_JOB_ID: String(job.id),
    CI_JOB_NAME: job.name,
    CI_JOB_NAME_SLUG: job.name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .slice(0, 63)
      .replace(/^-+|-+$/g, ''),
    CI_JOB_STAGE: job.stage,
    CI_JOB_URL: `${serverUrl}/${project.pathWithNamespace}/-/jobs/${job.id}`,
    CI_JOB_STARTED_AT: new Date(startedAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    CI_JOB_TIMEOUT: String(job.timeoutSeconds),
    CI_PROJECT_ROOT_NAMESPACE: project.pathWithNamespace.split('/')[0] ?? '',
    CI_PROJECT_TITLE: project.name,
    CI_RUNNER_ID: String(runner.id),
    CI_RUNNER_DESCRIPTION: runner.description,
    CI_RUNNER_TAGS: JSON.stringify(runner.tagList),
    CI_NODE_TOTAL: String(job.spec.parallel?.total ?? 1),
    CI_ID_TOKEN_ISSUER: coordinator.urls.issuer,
  };
  const serverPort = new URL(serverUrl).port;
  predefined.CI_SERVER_PORT = serverPort || (serverUrl.startsWith('https:') ? '443' : '80');
  if (job.spec.parallel) predefined.CI_NODE_INDEX = String(job.spec.parallel.index);
  if (job.whenCondition === 'manual') predefined.CI_JOB_MANUAL = 'true';
  if (user) {
    predefined.GITLAB_USER_ID = String(user.id);
    predefined.GITLAB_USER_EMAIL = user.email;
    predefined.GITLAB_USER_NAME = user.name;
  }
  const environment = job.spec.environment;
  if (environment) {
    predefined.CI_ENVIRONMENT_NAME = environment.name;
    predefined.CI_ENVIRONMENT_SLUG = environmentSlug(environment.name);
    predefined.CI_ENVIRONMENT_ACTION = environment.action;
    const stored = await coordinator.repos.protection.findEnvironment(project.id, environment.name);
    predefined.CI_ENVIRONMENT_TIER = environment.deploymentTier ?? stored?.tier ?? 'other';
    const url = environment.url ?? stored?.externalUrl;
    if (url) predefined.CI_ENVIRONMENT_URL = url;
  }
  const variables = new JobVariables();
  variables.setAll(predefined, { public: true, masked: false });
  // inherit:variables false (or a list) keeps the global YAML variables (or the others) from the job.
  const inherit = job.spec.inheritVariables ?? true;
  variables.setAll(
    inherit === true
      ? pipeline.variables
      : Object.fromEntries(
          Object.entries(pipeline.variables).filter(
            ([key]) => Array.isArray(inherit) && inherit.includes(key),
          ),
        ),
    { public: true, masked: false },
  );
  variables.setAll(job.spec.variables, { public: true, masked: false });
  // `reports:dotenv` of the jobs it downloads from: above YAML, below project variables (GitLab).
  variables.setAll(dotenv, { public: true, masked: false });
  for (const variable of await projectVariablesFor(
    coordinator.store.db,
    project.id,
    pipeline.refProtected,
    records.lineage,
    records.variables,
  )) {
    variables.set({
      key: variable.key,
      value: variable.value,
      public: false,
      masked: variable.masked,
      ...(variable.file ? { file: true } : {}),
      ...(variable.raw ? { raw: true } : {}),
    });
  }
  // Variables given when the pipeline was created outrank YAML and project variables (GitLab).
  variables.setAll(pipeline.apiVariables, { public: false, masked: false });
  return variables;
}
