import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { VNode } from 'preact';
import { renderToString } from 'preact-render-to-string';
import type { Coordinator } from '../coordinator/coordinator.js';
import { findWebSession, WEB_SESSION_LIFETIME_MS, type WebSession } from '../coordinator/web-session.js';

/** The session cookie (its value is a 256-bit random secret; the store keeps its hash). */
export const SESSION_COOKIE = '_tessera_session';
/** The pre-session CSRF cookie of the sign-in form (double submit: cookie and field must match). */
export const SIGN_IN_CSRF_COOKIE = '_tessera_sign_in_csrf';

/**
 * The policy of every page: nothing from another origin, no inline script or style, no framing,
 * forms post only here.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** The request's cookies by name. */
export function readCookies(request: FastifyRequest): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    try {
      out.set(name, decodeURIComponent(value));
    } catch {
      // a malformed cookie is ignored, as if absent
    }
  }
  return out;
}

/** Whether cookies must be `Secure`: the coordinator is reached over https. */
function secure(coordinator: Coordinator, request: FastifyRequest): boolean {
  return request.protocol === 'https' || coordinator.urls.serverUrl.startsWith('https:');
}

/** A `Set-Cookie` value: always `HttpOnly`, `SameSite=Lax`, `Path=/`; `Secure` on https. */
export function cookieHeader(
  coordinator: Coordinator,
  request: FastifyRequest,
  name: string,
  value: string,
  maxAgeSeconds: number,
): string {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${maxAgeSeconds}`];
  if (secure(coordinator, request)) parts.push('Secure');
  return parts.join('; ');
}

/** The session cookie to set after signing in. */
export function sessionCookie(coordinator: Coordinator, request: FastifyRequest, value: string): string {
  return cookieHeader(
    coordinator,
    request,
    SESSION_COOKIE,
    value,
    Math.floor(WEB_SESSION_LIFETIME_MS / 1000),
  );
}

/** The session of the request's cookie, if any. */
export async function currentSession(
  coordinator: Coordinator,
  request: FastifyRequest,
): Promise<{ session: WebSession; cookieValue: string } | undefined> {
  const cookieValue = readCookies(request).get(SESSION_COOKIE);
  if (!cookieValue) return undefined;
  const session = await findWebSession(coordinator, cookieValue);
  return session && { session, cookieValue };
}

/** Compares two CSRF tokens in constant time (different lengths are simply unequal). */
export function csrfTokensEqual(expected: string, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A new random CSRF token for the sign-in form. */
export function newCsrfToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Sends a page: HTML, the CSP and the other protective headers, never cached. */
export function sendPage(reply: FastifyReply, page: VNode, status = 200): FastifyReply {
  return reply
    .status(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'same-origin')
    .header('cache-control', 'no-store')
    .send(`<!DOCTYPE html>${renderToString(page)}`);
}

/** A redirect target that stays on this site: a path, never `//host` or a scheme. */
export function safeRedirect(target: unknown): string {
  return typeof target === 'string' && /^\/(?![/\\])/.test(target) ? target : '/';
}
