import type { Kysely } from 'kysely';

/**
 * Passwords and browser sessions for the web UI. A password lives in its own table (not a column
 * of `users`), so no query that reads users can carry a password hash along by accident. A session
 * row is keyed by the SHA-256 of the cookie value, so a copy of the database does not sign anyone
 * in; every coordinator node reads the same rows.
 */
export const webSessionsAndPasswordsMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('user_passwords')
      .addColumn('user_id', 'integer', (c) => c.primaryKey())
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('web_sessions')
      .addColumn('session_hash', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'integer', (c) => c.notNull())
      .addColumn('csrf_token', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('web_sessions_user').on('web_sessions').column('user_id').execute();
  },
};
