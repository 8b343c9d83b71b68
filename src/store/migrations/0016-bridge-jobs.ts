import type { Kysely } from 'kysely';

/**
 * Bridge (`trigger:`) jobs: `jobs.bridge` marks them (no runner claims one), and
 * `pipelines.source_job_id` names the bridge that created a pipeline: GitLab's `source_job` of a
 * child or multi-project pipeline. It links a downstream pipeline to its upstream both ways: the child
 * names the bridge (and so the parent pipeline), and a bridge finds its downstream by this column.
 */
export const bridgeJobsMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('jobs')
      .addColumn('bridge', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.alterTable('pipelines').addColumn('source_job_id', 'integer').execute();
    await db.schema.createIndex('pipelines_source_job').on('pipelines').column('source_job_id').execute();
  },
};
