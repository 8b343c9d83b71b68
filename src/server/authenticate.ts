import type { FastifyRequest } from 'fastify';
import { type CiReadAccess, requireCiRead, requireProject } from '../coordinator/permissions.js';
import { hashesEqual, hashSecret } from '../coordinator/secret-token.js';
import { TesseraError } from '../errors.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { AccessTokenRecord, UserRecord } from '../store/repositories/users.js';
import type { ServerContext } from './server-context.js';
import { scopesAllowing, type TokenScope } from './token-scopes.js';

/**
 * The token a request presents: `PRIVATE-TOKEN` header, or `Authorization: Bearer`.
 */
export function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers['private-token'];
  if (typeof header === 'string' && header !== '') return header;
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  return undefined;
}

/**
 * Counts a failed authentication from `request`'s address, and raises `ERR_RATE_LIMITED` (instead
 * of the refusal the caller was about to send) once that address failed too often this minute.
 * Valid credentials are never refused by this limit, so one misbehaving client behind a shared
 * address (a proxy, a NAT) cannot lock everyone else out.
 */
export function recordAuthFailure(context: ServerContext, request: FastifyRequest): void {
  const state = context.authLimiter.hit(request.ip);
  if (!state.allowed) {
    throw new TesseraError('ERR_RATE_LIMITED', 'too many failed authentication attempts; retry later', {
      details: { retryAfter: state.retryAfter },
    });
  }
}

/** What {@link authenticate} may be told beyond the request. */
export interface AuthenticateOptions {
  /**
   * The scopes that allow this call, instead of those the route table gives for the request's
   * method and route (see {@link scopesAllowing}): introspection is a POST that only reads.
   */
  scopes?: readonly TokenScope[];
}

/** The token of a request and the user behind it, once it is known valid (not yet its scopes). */
export interface AuthenticatedToken {
  user: UserRecord;
  token: AccessTokenRecord;
}

/**
 * The valid personal access token of the request and its user, or the refusal: 401 without a
 * token or with an unknown, revoked or expired one (counted by the failure limit).
 */
export async function authenticateToken(
  context: ServerContext,
  request: FastifyRequest,
): Promise<AuthenticatedToken> {
  const token = presentedToken(request);
  if (token === undefined) {
    recordAuthFailure(context, request);
    throw new TesseraError(
      'ERR_AUTH_REQUIRED',
      'this route needs a personal access token (PRIVATE-TOKEN header or Authorization: Bearer)',
    );
  }
  const hash = hashSecret(token);
  const { coordinator } = context;
  const found = await coordinator.repos.users.findAccessTokenByHash(hash);
  const now = coordinator.clock();
  const refusal =
    !found || !hashesEqual(found.storedHash, hash)
      ? 'the access token is unknown'
      : found.token.revoked
        ? 'the access token was revoked'
        : found.token.expiresAt !== null && found.token.expiresAt <= now
          ? 'the access token expired'
          : found.user.state !== 'active'
            ? 'the access token belongs to a user who is not active'
            : undefined;
  if (refusal !== undefined || !found) {
    recordAuthFailure(context, request);
    throw new TesseraError('ERR_AUTH_INVALID', `${refusal}: create a new one`);
  }
  return { user: found.user, token: found.token };
}

/** Refuses a token none of whose scopes is in `allowed`, in GitLab's words (403 `insufficient_scope`). */
function requireScope(token: AccessTokenRecord, allowed: readonly TokenScope[]): void {
  if (allowed.some((scope) => token.scopes.includes(scope))) return;
  throw new TesseraError(
    'ERR_AUTH_INSUFFICIENT_SCOPE',
    `this call needs a token with one of the scopes ${allowed.join(', ')}; this one has ${token.scopes.join(', ')}`,
    { details: { scope: allowed.join(' ') } },
  );
}

/**
 * The user a request acts as: the owner of its personal access token, once the token is valid and
 * one of its scopes allows the route (GitLab's scopes, see {@link scopesAllowing}); or, with a
 * `Sudo: <id or username>` header, that user, when the token has the `sudo` scope and belongs to
 * an instance admin (GitLab's sudo).
 *
 * @throws TesseraError `ERR_AUTH_REQUIRED` without a token, `ERR_AUTH_INVALID` for an unknown,
 *   revoked or expired one, `ERR_RATE_LIMITED` instead of either after too many failures from one
 *   address; `ERR_AUTH_INSUFFICIENT_SCOPE` when no scope of the token allows the call;
 *   `ERR_FORBIDDEN` or `ERR_NOT_FOUND` for a refused sudo.
 */
export async function authenticate(
  context: ServerContext,
  request: FastifyRequest,
  options: AuthenticateOptions = {},
): Promise<UserRecord> {
  return (await authenticateCaller(context, request, options)).user;
}

/** {@link authenticate}, answering the token too (its id, for `DELETE /personal_access_tokens/self`). */
export async function authenticateCaller(
  context: ServerContext,
  request: FastifyRequest,
  options: AuthenticateOptions = {},
): Promise<AuthenticatedToken> {
  const { user, token } = await authenticateToken(context, request);
  requireScope(
    token,
    options.scopes ?? scopesAllowing(request.method, request.routeOptions.url ?? request.url),
  );
  const sudo = request.headers.sudo;
  if (typeof sudo !== 'string' || sudo === '') return { user, token };
  requireScope(token, ['sudo']);
  if (!user.isAdmin) throw new TesseraError('ERR_FORBIDDEN', 'Must be admin to use sudo');
  const { users } = context.coordinator.repos;
  const target = /^\d+$/.test(sudo)
    ? Number(sudo) <= 2147483647
      ? await users.findById(Number(sudo))
      : undefined
    : await users.findByUsername(sudo);
  if (!target) throw new TesseraError('ERR_NOT_FOUND', 'No user id or username for the Sudo header');
  return { user: target, token };
}

/** Like {@link authenticate}, then refuses anyone but an instance admin. */
export async function authenticateAdmin(
  context: ServerContext,
  request: FastifyRequest,
): Promise<UserRecord> {
  const user = await authenticate(context, request);
  if (!user.isAdmin) throw new TesseraError('ERR_FORBIDDEN', 'this route is for instance administrators');
  return user;
}

/**
 * The user of the request and the project its `:id` names (a numeric id or the URL-encoded full
 * path), when the user holds at least `minimum` on it: {@link authenticate}, then `requireProject`.
 * The preamble of every `/projects/:id/…` route.
 *
 * @throws TesseraError as those two do: `ERR_AUTH_REQUIRED`, `ERR_NOT_FOUND`, `ERR_FORBIDDEN`.
 */
export async function authenticateForProject(
  context: ServerContext,
  request: FastifyRequest<{ Params: { id: number | string } }>,
  minimum: number,
): Promise<{ user: UserRecord; project: ProjectRecord; level: number }> {
  const user = await authenticate(context, request);
  return { user, ...(await requireProject(context.coordinator, user, request.params.id, minimum)) };
}

/**
 * {@link authenticateForProject} for a read of the project's pipelines or jobs: anyone who may see
 * the project, then `requireCiRead` (GitLab's `read_pipeline` and `read_build`, which the
 * project's `public_jobs` setting opens to people below the Reporter role).
 *
 * @throws TesseraError as {@link authenticateForProject}, and `ERR_FORBIDDEN` from `requireCiRead`.
 */
export async function authenticateForProjectCi(
  context: ServerContext,
  request: FastifyRequest<{ Params: { id: number | string } }>,
  what: keyof CiReadAccess,
): Promise<{ user: UserRecord; project: ProjectRecord; level: number }> {
  const found = await authenticateForProject(context, request, 0);
  requireCiRead(found.project, found.level, true, what);
  return found;
}
