import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PageWindow } from '../store/page-query.js';

/** GitLab's `per_page` default and the most it serves (a larger one is served as 100). */
export const DEFAULT_PER_PAGE = 20;
export const MAX_PER_PAGE = 100;

/** The query parameters of GitLab's offset pagination, for a list route's querystring schema. */
export const paginationProperties = {
  page: { type: 'integer', minimum: 1, maximum: 2147483647 },
  per_page: { type: 'integer', minimum: 1, maximum: 2147483647 },
} as const;

/** `page` and `per_page` as a route receives them. */
export interface PaginationQuery {
  page?: number;
  per_page?: number;
}

/** The page asked for, `per_page` clamped to 100 as GitLab does. */
export function pageWindow(query: PaginationQuery): PageWindow & { page: number; perPage: number } {
  const page = query.page ?? 1;
  const perPage = Math.min(query.per_page ?? DEFAULT_PER_PAGE, MAX_PER_PAGE);
  return { page, perPage, limit: perPage, offset: (page - 1) * perPage };
}

/**
 * The request's own URL with `changes` applied to its query string, as GitLab builds its `Link`
 * header from the request: on the host the client called (python-gitlab warns and may lose pages
 * when a link leaves the base URL it was given), with `serverUrl`'s scheme (a TLS proxy in front
 * hands Tessera plain HTTP). A Host header that is no host falls back to `serverUrl`.
 */
export function linkTo(
  request: FastifyRequest,
  serverUrl: string,
  changes: Readonly<Record<string, string | null>>,
): string {
  const configured = new URL(serverUrl);
  let url: URL;
  try {
    url = new URL(request.url, `${configured.protocol}//${request.headers.host ?? configured.host}`);
  } catch {
    url = new URL(request.url, serverUrl);
  }
  if (url.pathname !== new URL(request.url, 'http://x').pathname) url = new URL(request.url, serverUrl);
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) url.searchParams.delete(name);
    else url.searchParams.set(name, value);
  }
  return url.toString();
}

/**
 * GitLab's offset pagination headers for a page of a list of `total` rows: `X-Page`,
 * `X-Per-Page`, `X-Total`, `X-Total-Pages`, `X-Next-Page`, `X-Prev-Page` (empty when there is
 * none) and `Link` with `prev`, `next`, `first` and `last` (python-gitlab and gitbeaker follow
 * `next`).
 */
export function setPaginationHeaders(
  request: FastifyRequest,
  reply: FastifyReply,
  serverUrl: string,
  window: { page: number; perPage: number },
  total: number,
): void {
  const { page, perPage } = window;
  const totalPages = Math.max(1, Math.ceil(total / perPage));
  const next = page < totalPages ? page + 1 : null;
  const prev = page > 1 ? Math.min(page - 1, totalPages) : null;
  const link = (to: number, rel: string) =>
    `<${linkTo(request, serverUrl, { page: String(to), per_page: String(perPage) })}>; rel="${rel}"`;
  const links = [
    ...(prev === null ? [] : [link(prev, 'prev')]),
    ...(next === null ? [] : [link(next, 'next')]),
    link(1, 'first'),
    link(totalPages, 'last'),
  ];
  reply
    .header('x-page', String(page))
    .header('x-per-page', String(perPage))
    .header('x-total', String(total))
    .header('x-total-pages', String(totalPages))
    .header('x-next-page', next === null ? '' : String(next))
    .header('x-prev-page', prev === null ? '' : String(prev))
    .header('link', links.join(', '));
}
