import type { Kysely } from 'kysely';

/**
 * Stores whether the pipeline's ref was protected when the pipeline was created. The permission
 * check happens then, so the `ref_protected` claim and protected variables must use the same
 * answer even if the patterns change before a job is picked up (as GitLab's `build.protected`).
 */
export const pipelineRefProtectedMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('pipelines')
      .addColumn('ref_protected', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
  },
};
