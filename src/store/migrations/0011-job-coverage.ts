import type { Kysely } from 'kysely';

/**
 * The code coverage a job's `coverage:` regular expression found in its log (GitLab's job
 * `coverage`), one row per job that has one; a table of its own so jobs without coverage cost nothing.
 */
export const jobCoverageMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('job_coverage')
      .addColumn('job_id', 'integer', (c) => c.primaryKey().references('jobs.id').onDelete('cascade'))
      .addColumn('coverage', 'double precision', (c) => c.notNull())
      .execute();
  },
};
