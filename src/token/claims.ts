import { TesseraError } from '../errors.js';
import type { JobTokenContext } from './job-token-context.js';
import { buildSubject } from './subject.js';

/** The claims of a Tessera ID token (DESIGN 3.2, GitLab `id_tokens` compatible). */
export interface IdTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  jti: string;
  iat: number;
  nbf: number;
  exp: number;
  namespace_id: string;
  namespace_path: string;
  project_id: string;
  project_path: string;
  project_visibility: string;
  user_id: string | null;
  user_login: string | null;
  user_email: string | null;
  user_access_level: string | null;
  pipeline_id: string;
  pipeline_source: string;
  job_id: string;
  ref: string;
  ref_type: 'branch' | 'tag';
  ref_path: string;
  ref_protected: 'true' | 'false';
  environment?: string;
  environment_protected?: 'true' | 'false';
  deployment_tier?: string;
  environment_action?: string;
  runner_id: number;
  runner_environment: string;
  sha: string;
  ci_config_ref_uri?: string;
  ci_config_sha?: string;
}

/** Every claim name a Tessera token can carry, for the discovery `claims_supported`. */
export const CLAIM_NAMES: readonly string[] = Object.freeze([
  'iss',
  'sub',
  'aud',
  'jti',
  'iat',
  'nbf',
  'exp',
  'namespace_id',
  'namespace_path',
  'project_id',
  'project_path',
  'project_visibility',
  'user_id',
  'user_login',
  'user_email',
  'user_access_level',
  'pipeline_id',
  'pipeline_source',
  'job_id',
  'ref',
  'ref_type',
  'ref_path',
  'ref_protected',
  'environment',
  'environment_protected',
  'deployment_tier',
  'environment_action',
  'runner_id',
  'runner_environment',
  'sha',
  'ci_config_ref_uri',
  'ci_config_sha',
]);

/** Inputs of {@link buildClaims}; times in whole seconds. */
export interface BuildClaimsInput {
  issuer: string;
  context: JobTokenContext;
  /** Already validated by the issuer. */
  audience: string | readonly string[];
  jti: string;
  iat: number;
  lifetime: number;
}

function invalid(field: string): TesseraError {
  return new TesseraError('ERR_TOKEN_CLAIMS_INVALID', `job token context: ${field} is missing or malformed`, {
    details: { field },
  });
}

function id(value: unknown, field: string): string {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(field);
  return String(value);
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw invalid(field);
  return value;
}

function flag(value: unknown, field: string): 'true' | 'false' {
  if (typeof value !== 'boolean') throw invalid(field);
  return value ? 'true' : 'false';
}

/**
 * Builds the claims of one token from the job context, exactly as DESIGN 3.2: ids and flags as
 * strings, `runner_id` a number, user claims null when no user is known, environment claims only
 * with an environment, `nbf = iat - 5`, `exp = iat + lifetime`.
 *
 * @throws TesseraError `ERR_TOKEN_CLAIMS_INVALID` for an incomplete context, and the `sub` errors
 *   of {@link buildSubject}.
 */
export function buildClaims(input: BuildClaimsInput): IdTokenClaims {
  const { context } = input;
  if (context === null || typeof context !== 'object') throw invalid('context');
  const refType = context.ref?.type;
  if (refType !== 'branch' && refType !== 'tag') throw invalid('ref.type');
  const refName = text(context.ref.name, 'ref.name');
  const user = context.user;
  const environment = context.environment;
  const claims: IdTokenClaims = {
    iss: input.issuer,
    sub: buildSubject(context),
    aud: typeof input.audience === 'string' ? input.audience : [...input.audience],
    jti: input.jti,
    iat: input.iat,
    nbf: input.iat - 5,
    exp: input.iat + input.lifetime,
    namespace_id: id(context.namespace?.id, 'namespace.id'),
    namespace_path: text(context.namespace.fullPath, 'namespace.fullPath'),
    project_id: id(context.project?.id, 'project.id'),
    project_path: text(context.project.path, 'project.path'),
    project_visibility: text(context.project.visibility, 'project.visibility'),
    user_id: user ? id(user.id, 'user.id') : null,
    user_login: user ? text(user.username, 'user.username') : null,
    user_email: user?.email ?? null,
    user_access_level: user?.accessLevel ?? null,
    pipeline_id: id(context.pipeline?.id, 'pipeline.id'),
    pipeline_source: text(context.pipeline.source, 'pipeline.source'),
    job_id: id(context.job?.id, 'job.id'),
    ref: refName,
    ref_type: refType,
    ref_path: `${refType === 'branch' ? 'refs/heads/' : 'refs/tags/'}${refName}`,
    ref_protected: flag(context.ref.protected, 'ref.protected'),
    ...(environment
      ? {
          environment: text(environment.name, 'environment.name'),
          environment_protected: flag(environment.protected, 'environment.protected'),
          deployment_tier: text(environment.tier, 'environment.tier'),
          environment_action: text(environment.action, 'environment.action'),
        }
      : undefined),
    runner_id: Number(id(context.runner?.id, 'runner.id')),
    runner_environment: text(context.runner.environment, 'runner.environment'),
    sha: text(context.sha, 'sha'),
    ...(context.ciConfigRefUri
      ? { ci_config_ref_uri: context.ciConfigRefUri, ci_config_sha: text(context.ciConfigSha, 'ciConfigSha') }
      : undefined),
  };
  return claims;
}
