import type { FastifyRequest } from 'fastify';
import { requireProject } from '../coordinator/permissions.js';
import { hashesEqual, hashSecret } from '../coordinator/secret-token.js';
import { TesseraError } from '../errors.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';
import type { ServerContext } from './server-context.js';

/**
 * The personal access token of a request: `PRIVATE-TOKEN` header, or `Authorization: Bearer`.
 */
function presentedToken(request: FastifyRequest): string | undefined {
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

/**
 * The user behind the request's personal access token.
 *
 * @throws TesseraError `ERR_AUTH_REQUIRED` without a token, `ERR_AUTH_INVALID` for an unknown,
 *   revoked or expired one, `ERR_RATE_LIMITED` instead of either after too many failures from one address.
 */
export async function authenticate(context: ServerContext, request: FastifyRequest): Promise<UserRecord> {
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
  if (
    !found ||
    !hashesEqual(found.storedHash, hash) ||
    found.token.revoked ||
    (found.token.expiresAt !== null && found.token.expiresAt <= now) ||
    found.user.state !== 'active'
  ) {
    recordAuthFailure(context, request);
    throw new TesseraError('ERR_AUTH_INVALID', 'the access token is unknown, revoked or expired');
  }
  return found.user;
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
