import type { Kysely } from 'kysely';

/**
 * A runner's `access_level` (GitLab's): `not_protected` runs jobs of any ref, `ref_protected` only
 * jobs of pipelines on protected branches and tags. Existing runners keep taking every job.
 */
export const runnerAccessLevelMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('runners')
      .addColumn('access_level', 'text', (c) => c.notNull().defaultTo('not_protected'))
      .execute();
  },
};
