import {
  type ArtifactPayload,
  buildArtifactAndCachePayload,
  buildDependencyPayload,
  type CachePayload,
  type DependencyPayload,
  MissingDependencyError,
} from '../artifacts/job-payload-artifacts.js';
import { TesseraError } from '../errors.js';
import { expandVariables } from '../pipeline/expand-variables.js';
import type { ImageSpec, ServiceSpec } from '../pipeline/spec.js';
import type { RunnerRecord } from '../store/repositories/runners.js';
import { describeAudience, refusedAudience } from './allowed-audience.js';
import type { Coordinator } from './coordinator.js';
import { environmentRefusal } from './create-pipeline.js';
import { buildJobVariables, type JobVariable, ON_DEMAND_PATH } from './job-variables.js';
import { projectAccessLevel } from './permissions.js';
import { buildTokenContext, type JobRecords, lifetimeCap } from './token-context.js';

/** GitLab's secrets_configuration entry for one Vault secret. */
export interface SecretPayload {
  vault: {
    server: {
      url: string;
      namespace?: string;
      auth: { name: 'jwt'; path: string; data: { jwt: string; role?: string } };
    };
    engine: { name: string; path: string };
    path: string;
    field: string;
  };
  file: boolean;
}

/** `image` of the job payload, as GitLab Runner's `common.Image`. */
export interface ImagePayload {
  name: string;
  entrypoint?: string[];
  pull_policy?: string[];
  executor_opts?: { docker: { user: string } };
  ports: [];
}

/** One entry of `services` in the job payload. */
export interface ServicePayload extends ImagePayload {
  alias?: string;
  command?: string[];
  variables: Array<{ key: string; value: string; public: true }>;
}

/** The job as `POST /api/v4/jobs/request` answers it (GitLab's job payload, for what Tessera has). */
export interface JobPayload {
  id: number;
  token: string;
  allow_git_fetch: boolean;
  job_info: {
    id: number;
    name: string;
    stage: string;
    project_id: number;
    project_name: string;
    time_in_queue_seconds: number;
  };
  git_info: {
    repo_type: 'git';
    repo_url: string;
    ref: string;
    sha: string;
    before_sha: string;
    ref_type: 'branch' | 'tag';
    /** Whether the ref is protected (GitLab sends it; the runner's cache keys already carry it). */
    protected: boolean;
    refspecs: string[];
    depth: number;
  };
  runner_info: { timeout: number; runner_session_url: null };
  variables: JobVariable[];
  steps: Array<{ name: string; script: string[]; timeout: number; when: string; allow_failure: boolean }>;
  image: ImagePayload | null;
  services: ServicePayload[];
  artifacts: ArtifactPayload[];
  cache: CachePayload[];
  credentials: [];
  dependencies: DependencyPayload[];
  features: { trace_sections: boolean; failure_reasons: string[] };
  secrets: Record<string, SecretPayload>;
  /** GitLab's `hooks`: `[{ name: 'pre_get_sources_script', script }]`, empty when the job has none. */
  hooks: HookPayload[];
}

/** One entry of `hooks` in the job payload (GitLab's `JobRequest::Hook`: `name` and `script`). */
export interface HookPayload {
  name: 'pre_get_sources_script';
  script: string[];
}

/** An `image:` as the runner protocol carries it; its name may use the job's variables (`$IMAGE`). */
function imagePayload(image: ImageSpec, scope: Readonly<Record<string, string>>): ImagePayload {
  return {
    name: expandVariables(image.name, scope),
    ...(image.entrypoint ? { entrypoint: [...image.entrypoint] } : {}),
    ...(image.pullPolicy ? { pull_policy: [...image.pullPolicy] } : {}),
    ...(image.dockerUser
      ? { executor_opts: { docker: { user: expandVariables(image.dockerUser, scope) } } }
      : {}),
    ports: [],
  };
}

function servicePayload(service: ServiceSpec, scope: Readonly<Record<string, string>>): ServicePayload {
  return {
    ...imagePayload(service, scope),
    ...(service.alias ? { alias: expandVariables(service.alias, scope) } : {}),
    ...(service.command ? { command: [...service.command] } : {}),
    variables: Object.entries(service.variables ?? {}).map(([key, value]) => ({
      key,
      value: expandVariables(value, scope),
      public: true as const,
    })),
  };
}

/** A refusal to hand out a job, with the failure reason the job ends with. */
export class JobPreparationError extends Error {
  constructor(
    readonly failureReason: string,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * Builds the payload of a job just claimed by `runner`: variables (predefined, YAML, project,
 * then the job token, the on-demand request URL and token, and one masked variable per `id_tokens`
 * entry minted now, when the runner and timeout are known), steps, git and secrets configuration.
 *
 * @throws JobPreparationError when the job cannot run (a protected environment its user may no
 *   longer deploy to, a burned project path, a secret without `VAULT_SERVER_URL`, a token that
 *   cannot be minted): the caller fails the job with `failureReason`.
 */
export async function buildJobPayload(
  coordinator: Coordinator,
  loaded: JobRecords,
  runner: RunnerRecord,
  secrets: { jobToken: string; requestToken: string },
  now: number,
): Promise<JobPayload> {
  const { job, pipeline, project } = loaded;
  const repos = coordinator.repos;
  const idTokens = Object.entries(job.spec.idTokens);
  // Read once for the variables and the ID token's claims (each read them on its own before),
  // and together: these reads depend on nothing but the job, and on PostgreSQL each waited for
  // the one before it (a request's latency was mostly such round trips, one after the other).
  const [user, lineage, pathReused] = await Promise.all([
    loaded.user !== undefined
      ? (loaded.user ?? undefined)
      : job.userId === null
        ? undefined
        : repos.users.findById(job.userId),
    loaded.lineage ?? repos.groups.lineage(project.namespaceId),
    idTokens.length === 0
      ? undefined
      : (loaded.pathReused ?? repos.projects.pathHeldByAnother(project.id, project.pathWithNamespace)),
  ]);
  // The environment may have become protected since the pipeline was created or the job played.
  if (job.environmentName !== null) {
    const why = user
      ? await environmentRefusal(coordinator, coordinator.store.db, project, user, job.environmentName)
      : (await coordinator.repos.protection.findProtectedEnvironment(project.id, job.environmentName))
        ? `environment "${job.environmentName}" is protected and the job has no user`
        : null;
    if (why) throw new JobPreparationError('protected_environment_failure', why);
  }
  let inherited: Awaited<ReturnType<typeof buildDependencyPayload>>;
  let accessLevel: number | null;
  try {
    [inherited, accessLevel] = await Promise.all([
      buildDependencyPayload(coordinator, job, secrets.jobToken),
      // The `user_access_level` claim (only an ID token needs it).
      user && idTokens.length > 0
        ? loaded.accessLevel !== undefined
          ? loaded.accessLevel
          : projectAccessLevel(coordinator, user.id, project, lineage)
        : null,
    ]);
  } catch (error) {
    if (error instanceof MissingDependencyError)
      throw new JobPreparationError('missing_dependency_failure', error.message);
    throw error;
  }
  const records: JobRecords = {
    ...loaded,
    user: user ?? null,
    lineage,
    accessLevel,
    ...(pathReused === undefined ? {} : { pathReused }),
  };
  const variables = await buildJobVariables(coordinator, records, runner, user, now, inherited.dotenv);
  const onDemandUrl = `${coordinator.urls.serverUrl}${ON_DEMAND_PATH}?api-version=1`;
  const secretVariables: JobVariable[] = [
    { key: 'CI_JOB_TOKEN', value: secrets.jobToken, public: false, masked: true },
    { key: 'TESSERA_ID_TOKEN_REQUEST_URL', value: onDemandUrl, public: true, masked: false },
    { key: 'TESSERA_ID_TOKEN_REQUEST_TOKEN', value: secrets.requestToken, public: false, masked: true },
    { key: 'ACTIONS_ID_TOKEN_REQUEST_URL', value: onDemandUrl, public: true, masked: false },
    { key: 'ACTIONS_ID_TOKEN_REQUEST_TOKEN', value: secrets.requestToken, public: false, masked: true },
  ];
  const scope = variables.values();
  const files = buildArtifactAndCachePayload(job.spec, pipeline.refProtected, scope);
  if (idTokens.length > 0) {
    let context: Awaited<ReturnType<typeof buildTokenContext>>;
    try {
      context = await buildTokenContext(coordinator, records);
    } catch (error) {
      throw new JobPreparationError('unknown_failure', 'the job context could not be built', String(error));
    }
    const cap = Math.min(job.timeoutSeconds, lifetimeCap(coordinator, project));
    const audiences = idTokens.map(([name, spec]) => {
      const audience =
        typeof spec.aud === 'string'
          ? expandVariables(spec.aud, scope)
          : spec.aud.map((aud) => expandVariables(aud, scope));
      // Checked for every entry before any is minted: a refused job leaves no token behind.
      const refused = refusedAudience(project.allowedAudiences, audience);
      if (refused !== null) {
        throw new JobPreparationError(
          'unmet_prerequisites',
          `id_tokens.${name}: the project does not allow tokens for audience ${describeAudience(refused)} (ci_id_token_allowed_audiences); a maintainer can add it to the project's allowed audiences`,
          'ERR_ID_TOKEN_AUDIENCE_NOT_ALLOWED',
        );
      }
      return audience;
    });
    for (const [index, [name, spec]] of idTokens.entries()) {
      const audience = audiences[index] as string | string[];
      const lifetime = spec.ttl === null ? cap : Math.min(spec.ttl, cap);
      try {
        const issued = await coordinator.tokenIssuer.issue({
          context,
          audience,
          lifetime,
          ...(spec.alg ? { alg: spec.alg } : {}),
          issuedVia: 'pre-issued',
        });
        secretVariables.push({ key: name, value: issued.token, public: false, masked: true });
        coordinator.counters.tokensIssued['pre-issued'] += 1;
      } catch (error) {
        if (error instanceof TesseraError) {
          const reason =
            error.code === 'ERR_TOKEN_SUB_PATH_BURNED' ? 'id_token_burned_project_path' : 'id_token_failure';
          throw new JobPreparationError(reason, `id_tokens.${name}: ${error.message}`, error.code);
        }
        throw error;
      }
    }
  }
  const secretsPayload: Record<string, SecretPayload> = {};
  const secretEntries = Object.entries(job.spec.secrets);
  if (secretEntries.length > 0) {
    const serverUrl = scope.VAULT_SERVER_URL;
    if (!serverUrl) {
      throw new JobPreparationError(
        'secrets_provider_not_found',
        'secrets: need the VAULT_SERVER_URL variable',
      );
    }
    const firstToken = idTokens[0]?.[0];
    for (const [name, secret] of secretEntries) {
      const jwt = secret.token ?? (firstToken ? `$${firstToken}` : undefined);
      if (!jwt) {
        throw new JobPreparationError(
          'secrets_provider_not_found',
          `secrets.${name}: the job has no id_tokens to log in with`,
        );
      }
      const role = scope.VAULT_AUTH_ROLE;
      secretsPayload[name] = {
        vault: {
          server: {
            url: serverUrl,
            ...(scope.VAULT_NAMESPACE ? { namespace: scope.VAULT_NAMESPACE } : {}),
            auth: {
              name: 'jwt',
              path: scope.VAULT_AUTH_PATH || 'jwt',
              data: { jwt, ...(role ? { role } : {}) },
            },
          },
          engine: { name: secret.vault.engine.name, path: secret.vault.engine.path },
          path: secret.vault.path,
          field: secret.vault.field,
        },
        file: secret.file,
      };
    }
  }
  const timeout = job.timeoutSeconds;
  const steps: JobPayload['steps'] = [
    {
      name: 'script',
      script: [...job.spec.beforeScript, ...job.spec.script],
      timeout,
      when: 'on_success',
      allow_failure: job.allowFailure,
    },
  ];
  if (job.spec.afterScript.length > 0) {
    steps.push({
      name: 'after_script',
      script: [...job.spec.afterScript],
      timeout,
      when: 'always',
      allow_failure: true,
    });
  }
  const refspec =
    pipeline.refType === 'tag'
      ? `+refs/tags/${pipeline.ref}:refs/tags/${pipeline.ref}`
      : `+refs/heads/${pipeline.ref}:refs/remotes/origin/${pipeline.ref}`;
  return {
    id: job.id,
    token: secrets.jobToken,
    allow_git_fetch: true,
    job_info: {
      id: job.id,
      name: job.name,
      stage: job.stage,
      project_id: project.id,
      project_name: project.name,
      time_in_queue_seconds: job.queuedAt === null ? 0 : Math.max(0, Math.round((now - job.queuedAt) / 1000)),
    },
    git_info: {
      repo_type: 'git',
      repo_url: project.repositoryUrl,
      ref: pipeline.ref,
      sha: pipeline.sha,
      before_sha: '0000000000000000000000000000000000000000',
      ref_type: pipeline.refType,
      protected: pipeline.refProtected,
      refspecs: [refspec],
      depth: 0,
    },
    runner_info: { timeout, runner_session_url: null },
    variables: [
      ...variables.list().filter((v) => !secretVariables.some((s) => s.key === v.key)),
      ...secretVariables,
    ],
    steps,
    image: job.spec.image ? imagePayload(job.spec.image, scope) : null,
    services: (job.spec.services ?? []).map((service) => servicePayload(service, scope)),
    artifacts: files.artifacts,
    cache: files.cache,
    credentials: [],
    dependencies: inherited.dependencies,
    features: {
      trace_sections: true,
      failure_reasons: [
        'script_failure',
        'runner_system_failure',
        'job_execution_timeout',
        'unknown_failure',
        'image_pull_failure',
        'missing_dependency_failure',
      ],
    },
    secrets: secretsPayload,
    hooks: job.spec.hooks
      ? [{ name: 'pre_get_sources_script', script: [...job.spec.hooks.preGetSourcesScript] }]
      : [],
  };
}
