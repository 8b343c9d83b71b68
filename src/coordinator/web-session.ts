import { randomBytes } from 'node:crypto';
import type { UserRecord } from '../store/repositories/users.js';
import { WebSessionRepository } from '../store/repositories/web-sessions.js';
import type { Coordinator } from './coordinator.js';
import { verifyPassword } from './password.js';
import { hashSecret } from './secret-token.js';

/** How long a browser session lasts after signing in (GitLab's default session lasts a week). */
export const WEB_SESSION_LIFETIME_MS = 7 * 24 * 3600 * 1000;

/** A signed-in browser: the user, and the CSRF token every state change from it must carry. */
export interface WebSession {
  user: UserRecord;
  csrfToken: string;
}

function sessions(coordinator: Coordinator): WebSessionRepository {
  return new WebSessionRepository(coordinator.store.db);
}

/**
 * Checks a username (or email) and password and opens a session. Answers the cookie value (shown
 * to the browser only; the store keeps its SHA-256) and the session, or null when the login,
 * the password or the user's state is wrong (one answer for all three).
 */
export async function signIn(
  coordinator: Coordinator,
  login: string,
  password: string,
): Promise<{ cookieValue: string; session: WebSession } | null> {
  const repo = sessions(coordinator);
  const userId = await repo.findUserIdByLogin(login);
  const stored = userId === undefined ? undefined : await repo.findPasswordHash(userId);
  const matches = await verifyPassword(password, stored);
  if (!matches || userId === undefined) return null;
  const user = await coordinator.repos.users.findById(userId);
  if (user?.state !== 'active') return null;
  const now = coordinator.clock();
  const cookieValue = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(32).toString('base64url');
  await repo.deleteExpired(now);
  await repo.createSession({
    sessionHash: hashSecret(cookieValue),
    userId,
    csrfToken,
    createdAt: now,
    expiresAt: now + WEB_SESSION_LIFETIME_MS,
  });
  return { cookieValue, session: { user, csrfToken } };
}

/** The session of a cookie value, or undefined when it is unknown, expired, or its user is not active. */
export async function findWebSession(
  coordinator: Coordinator,
  cookieValue: string,
): Promise<WebSession | undefined> {
  const record = await sessions(coordinator).findSession(hashSecret(cookieValue));
  if (!record || record.expiresAt <= coordinator.clock()) return undefined;
  const user = await coordinator.repos.users.findById(record.userId);
  if (user?.state !== 'active') return undefined;
  return { user, csrfToken: record.csrfToken };
}

/** Ends the session of a cookie value (signing out). */
export async function signOut(coordinator: Coordinator, cookieValue: string): Promise<void> {
  await sessions(coordinator).deleteSession(hashSecret(cookieValue));
}

/** The job log's length in characters, and its text from character `offset` on. */
export async function readJobLogFrom(
  coordinator: Coordinator,
  jobId: number,
  offset: number,
): Promise<{ length: number; text: string }> {
  const repo = sessions(coordinator);
  const text = await repo.readTraceFrom(jobId, offset);
  // SQL counts characters (code points), not UTF-16 units: count the same way.
  let characters = 0;
  for (const _ of text) characters += 1;
  return { length: offset + characters, text };
}

/** The job log's length in characters. */
export function jobLogLength(coordinator: Coordinator, jobId: number): Promise<number> {
  return sessions(coordinator).traceLength(jobId);
}

/** How many bytes of the job's log the runners sent so far (cheap: no log text is read). */
export async function jobLogBytes(coordinator: Coordinator, jobId: number): Promise<number> {
  return (await coordinator.repos.jobs.traceState(jobId))?.bytes ?? 0;
}
