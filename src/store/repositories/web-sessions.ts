import { sql } from 'kysely';
import type { Db } from '../open-store.js';

/** A stored browser session (the cookie value itself is never stored, only its hash). */
export interface WebSessionRecord {
  sessionHash: string;
  userId: number;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
}

/** Web passwords, browser sessions, and the slices of job logs the web UI streams. */
export class WebSessionRepository {
  constructor(private readonly db: Db) {}

  /** Sets (or replaces) the user's password hash. */
  async setPasswordHash(userId: number, passwordHash: string, now: number): Promise<void> {
    await this.db
      .insertInto('userPasswords')
      .values({ userId, passwordHash, updatedAt: now })
      .onConflict((oc) => oc.column('userId').doUpdateSet({ passwordHash, updatedAt: now }))
      .execute();
  }

  /** The user's password hash, or undefined when they have none. */
  async findPasswordHash(userId: number): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('userPasswords')
      .select('passwordHash')
      .where('userId', '=', userId)
      .executeTakeFirst();
    return row?.passwordHash;
  }

  /** The id of the user whose username or email is `login` (case-insensitive, as GitLab). */
  async findUserIdByLogin(login: string): Promise<number | undefined> {
    const lowered = login.toLowerCase();
    const row = await this.db
      .selectFrom('users')
      .select('id')
      .where((eb) => eb.or([eb(sql`lower(username)`, '=', lowered), eb(sql`lower(email)`, '=', lowered)]))
      .orderBy('id')
      .executeTakeFirst();
    return row?.id;
  }

  async createSession(record: WebSessionRecord): Promise<void> {
    await this.db.insertInto('webSessions').values(record).execute();
  }

  async findSession(sessionHash: string): Promise<WebSessionRecord | undefined> {
    const row = await this.db
      .selectFrom('webSessions')
      .selectAll()
      .where('sessionHash', '=', sessionHash)
      .executeTakeFirst();
    return row && { ...row, createdAt: Number(row.createdAt), expiresAt: Number(row.expiresAt) };
  }

  async deleteSession(sessionHash: string): Promise<void> {
    await this.db.deleteFrom('webSessions').where('sessionHash', '=', sessionHash).execute();
  }

  /** Drops sessions that expired before `now`. */
  async deleteExpired(now: number): Promise<void> {
    await this.db.deleteFrom('webSessions').where('expiresAt', '<', now).execute();
  }

  /** The job log's length in characters (0 without a log). */
  async traceLength(jobId: number): Promise<number> {
    const row = await this.db
      .selectFrom('jobTraces')
      .select(sql<number>`length(content)`.as('length'))
      .where('jobId', '=', jobId)
      .executeTakeFirst();
    return Number(row?.length ?? 0);
  }

  /** The job log from character `offset` on (SQL `substr`, so a long log is not read whole). */
  async readTraceFrom(jobId: number, offset: number): Promise<string> {
    const row = await this.db
      .selectFrom('jobTraces')
      .select(sql<string>`substr(content, ${offset + 1})`.as('rest'))
      .where('jobId', '=', jobId)
      .executeTakeFirst();
    return row?.rest ?? '';
  }
}
