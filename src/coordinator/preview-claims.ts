import { TesseraError } from '../errors.js';
import type { PlannedJob } from '../pipeline/plan.js';
import type { PipelineSource } from '../pipeline/rule-variables.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';
import { buildClaims, type IdTokenClaims } from '../token/claims.js';
import type { JobTokenContext } from '../token/job-token-context.js';
import { roleName } from './access-level.js';
import { describeAudience, refusedAudience } from './allowed-audience.js';
import type { Coordinator } from './coordinator.js';
import { gitReader, planResolvedRef } from './create-pipeline.js';
import { guessTier } from './deployment-tier.js';
import { projectAccessLevel } from './permissions.js';
import { refProtection } from './protected-ref.js';
import { lifetimeCap } from './token-context.js';

/** Claims whose value exists only once a job runs and its token is minted: shown as placeholders. */
export const PREVIEW_PLACEHOLDER_CLAIMS: readonly string[] = Object.freeze([
  'jti',
  'iat',
  'nbf',
  'exp',
  'pipeline_id',
  'job_id',
  'runner_id',
]);

/** What to preview: a project's job at a ref, as the given user would run it. */
export interface ClaimPreviewRequest {
  project: ProjectRecord;
  user: UserRecord;
  ref: string;
  /** The job's name; may be left out when the configuration has one job. */
  job?: string;
  /** The audience; default: each of the job's `id_tokens`. */
  aud?: string;
  /** A configuration (or a single job definition) to plan instead of the one in the repository. */
  jobDefinition?: string;
  source?: PipelineSource;
}

/** One previewed token: its `id_tokens` name (null for an audience given by hand) and its claims. */
export interface PreviewedToken {
  name: string | null;
  claims: IdTokenClaims;
  /** Why the coordinator would refuse to mint it (an audience the project does not allow), or null. */
  refusal: string | null;
}

/** The answer of {@link previewClaims}. */
export interface ClaimPreview {
  job: string;
  ref: string;
  sha: string;
  tokens: PreviewedToken[];
  /** Claims that hold stand-in values (see {@link PREVIEW_PLACEHOLDER_CLAIMS}). */
  placeholders: readonly string[];
}

const PLACEHOLDER_ID = 0;

/**
 * The exact claims the job's ID tokens would carry if `user` ran a pipeline for `ref` now, built
 * by the issuer's own `buildClaims` from the same records a real token is (the project and its
 * group, the ref and whether it is protected, the user's role, the job's environment), without
 * minting or storing anything. Ids and times that exist only once the job runs are stand-ins.
 *
 * @throws TesseraError `ERR_VALIDATION` for an unknown job or a job without audience,
 *   and the errors of resolving the ref and planning the configuration.
 */
export async function previewClaims(
  coordinator: Coordinator,
  request: ClaimPreviewRequest,
): Promise<ClaimPreview> {
  const { project, user } = request;
  const source = request.source ?? 'push';
  const git = gitReader(coordinator);
  const ref = await git.resolveRef(project.repositoryUrl, request.ref);
  const protection = await refProtection(coordinator.store.db, project.id, ref.type, ref.name);
  const { plan } = await planResolvedRef(coordinator, {
    project,
    user,
    ref,
    refProtected: protection.protected,
    source,
    ...(request.jobDefinition !== undefined ? { configContent: request.jobDefinition } : {}),
  });
  const names = plan.jobs.map((job) => job.name);
  const job: PlannedJob | undefined =
    request.job === undefined
      ? plan.jobs.length === 1
        ? plan.jobs[0]
        : undefined
      : plan.jobs.find((candidate) => candidate.name === request.job);
  if (!job) {
    const available = names.length === 0 ? 'none' : names.slice(0, 50).join(', ');
    throw new TesseraError(
      'ERR_VALIDATION',
      request.job === undefined
        ? `name the job to preview (jobs at ${ref.name}: ${available})`
        : `no job "${request.job.slice(0, 100)}" runs for ${ref.name} (jobs: ${available})`,
      { details: { field: 'job' } },
    );
  }
  const audiences: Array<{ name: string | null; aud: string | readonly string[] }> =
    request.aud !== undefined
      ? [{ name: null, aud: request.aud }]
      : Object.entries(job.idTokens).map(([name, spec]) => ({ name, aud: spec.aud }));
  if (audiences.length === 0) {
    throw new TesseraError('ERR_VALIDATION', `job "${job.name}" has no id_tokens: give the audience (aud)`, {
      details: { field: 'aud' },
    });
  }
  const group = await coordinator.repos.groups.findById(project.namespaceId);
  if (!group) throw new TesseraError('ERR_NOT_FOUND', `project ${project.id} has no group`);
  const level = await projectAccessLevel(coordinator, user.id, project);
  let environment: JobTokenContext['environment'] = null;
  if (job.environment) {
    const stored = await coordinator.repos.protection.findEnvironment(project.id, job.environment.name);
    const protectedEnvironment = await coordinator.repos.protection.findProtectedEnvironment(
      project.id,
      job.environment.name,
    );
    environment = {
      name: job.environment.name,
      protected: protectedEnvironment !== undefined,
      tier: job.environment.deploymentTier ?? stored?.tier ?? guessTier(job.environment.name),
      action: job.environment.action,
    };
  }
  const host = new URL(coordinator.urls.serverUrl).host;
  const refPath = `refs/${ref.type === 'tag' ? 'tags' : 'heads'}/${ref.name}`;
  const context: JobTokenContext = {
    namespace: { id: group.id, fullPath: group.fullPath },
    project: {
      id: project.id,
      path: project.pathWithNamespace,
      visibility: project.visibility as 'private' | 'internal' | 'public',
      subClaimComponents: project.subClaimComponents,
      pathReused: await coordinator.repos.projects.pathHeldByAnother(project.id, project.pathWithNamespace),
    },
    user: { id: user.id, username: user.username, email: user.email, accessLevel: roleName(level) },
    pipeline: { id: PLACEHOLDER_ID, source },
    job: { id: PLACEHOLDER_ID },
    ref: { name: ref.name, type: ref.type, protected: protection.protected },
    environment,
    runner: { id: PLACEHOLDER_ID, environment: 'self-hosted' },
    sha: ref.sha,
    ciConfigRefUri: `${host}/${project.pathWithNamespace}//${project.ciConfigPath}@${refPath}`,
    ciConfigSha: ref.sha,
  };
  const timeout = job.timeoutSeconds ?? project.jobTimeout ?? coordinator.config.jobTimeout;
  const cap = Math.min(timeout, lifetimeCap(coordinator, project));
  const iat = Math.floor(coordinator.clock() / 1000);
  const tokens = audiences.map(({ name, aud }) => {
    const spec = name === null ? undefined : job.idTokens[name];
    const lifetime = spec?.ttl ? Math.min(spec.ttl, cap) : cap;
    const refused = refusedAudience(project.allowedAudiences, aud);
    return {
      name,
      refusal:
        refused === null
          ? null
          : `audience ${describeAudience(refused)} is not in the project's ci_id_token_allowed_audiences`,
      claims: buildClaims({
        issuer: coordinator.urls.issuer,
        context,
        audience: aud,
        // A UUID-shaped stand-in: the real jti is a fresh random UUID at minting.
        jti: '00000000-0000-0000-0000-000000000000',
        iat,
        lifetime,
      }),
    };
  });
  return { job: job.name, ref: ref.name, sha: ref.sha, tokens, placeholders: PREVIEW_PLACEHOLDER_CLAIMS };
}
