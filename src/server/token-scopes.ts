/**
 * The scopes a personal access token can carry: GitLab's names. `write_repository` and
 * `read_repository` are accepted for compatibility but grant nothing here (Tessera hosts no git),
 * and `admin_mode` grants nothing by itself (Tessera has no admin-mode setting: an admin's `api`
 * token acts as admin, as GitLab's does with admin mode off).
 */
export const TOKEN_SCOPES = [
  'api',
  'read_api',
  'read_user',
  'read_repository',
  'write_repository',
  'create_runner',
  'manage_runner',
  'sudo',
  'admin_mode',
] as const;

/** One of {@link TOKEN_SCOPES}. */
export type TokenScope = (typeof TOKEN_SCOPES)[number];

/** The request schema of a new token's `scopes`: one to sixteen of {@link TOKEN_SCOPES}. */
export const tokenScopesSchema = {
  type: 'array',
  minItems: 1,
  maxItems: 16,
  items: { type: 'string', enum: TOKEN_SCOPES },
} as const;

/** GitLab's `error_description` for a token whose scopes do not allow the route (RFC 6750 §3.1). */
export const INSUFFICIENT_SCOPE_DESCRIPTION =
  'The request requires higher privileges than provided by the access token.';

const USER_ROUTE = /^\/api\/v4\/users?(\/|$)/;
const RUNNER_CREATION = new Set(['/api/v4/user/runners', '/api/v4/runners']);
const RUNNER_MANAGEMENT = /^\/api\/v4\/runners\/(all|:id)(\/|$)/;

/**
 * The scopes that allow a token to call `method` on the route `route` (its pattern, such as
 * `/api/v4/projects/:id`), most specific first, as GitLab's `allow_access_with_scope` declares them:
 * `api` everywhere, `read_api` on every GET, `read_user` on the GETs of `/user` and `/users`,
 * `create_runner` on runner creation (`POST /user/runners`), `manage_runner` on the runner
 * management routes (`/runners/all`, `/runners/:id`).
 */
export function scopesAllowing(method: string, route: string): TokenScope[] {
  const read = method === 'GET' || method === 'HEAD';
  const specific: TokenScope[] = [];
  if (read && USER_ROUTE.test(route)) specific.push('read_user');
  if (method === 'POST' && RUNNER_CREATION.has(route)) specific.push('create_runner');
  if (RUNNER_MANAGEMENT.test(route)) specific.push('manage_runner');
  return [...specific, 'api', ...(read ? (['read_api'] as const) : [])];
}
