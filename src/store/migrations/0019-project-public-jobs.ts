import type { Kysely } from 'kysely';

/**
 * A project's `public_jobs` (GitLab's "Public pipelines" setting, `public_builds` before): whether
 * people without the Reporter role (visitors and non-members of a public project, signed-in users
 * of an internal one, Guests) may read its jobs, logs and artifacts. Existing projects keep what
 * they had: on, GitLab's default.
 */
export const projectPublicJobsMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('projects')
      .addColumn('public_jobs', 'integer', (c) => c.notNull().defaultTo(1))
      .execute();
  },
};
