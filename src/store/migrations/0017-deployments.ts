import { type Kysely, sql } from 'kysely';

/**
 * GitLab's deployments and the environment lifecycle: a `deployments` row per run of a job with
 * `environment: { action: start }` (its status is the job's, read through `job_id`, so nothing has
 * to keep a copy in step); `environments.auto_stop_at` (`auto_stop_in` of the last successful
 * deployment, null for never) and `environments.updated_at` (the last change of the environment
 * itself, which `stop_stale` compares with; existing rows start at their creation time).
 */
export function deploymentsMigration(dialect: 'sqlite' | 'postgres') {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const table = db.schema.createTable('deployments');
      await (dialect === 'postgres'
        ? table.addColumn('id', 'serial', (c) => c.primaryKey())
        : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      )
        .addColumn('iid', 'integer', (c) => c.notNull())
        .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id'))
        .addColumn('environment_id', 'integer', (c) => c.notNull().references('environments.id'))
        .addColumn('job_id', 'integer', (c) => c.notNull())
        .addColumn('ref', 'text', (c) => c.notNull())
        .addColumn('sha', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('deployments_project_iid', ['project_id', 'iid'])
        .execute();
      await db.schema
        .createIndex('deployments_environment')
        .on('deployments')
        .column('environment_id')
        .execute();
      await db.schema.createIndex('deployments_job').on('deployments').column('job_id').execute();
      await db.schema.alterTable('environments').addColumn('auto_stop_at', 'bigint').execute();
      await db.schema.alterTable('environments').addColumn('updated_at', 'bigint').execute();
      await sql`update environments set updated_at = created_at`.execute(db);
      await db.schema
        .createIndex('environments_auto_stop')
        .on('environments')
        .columns(['state', 'auto_stop_at'])
        .execute();
    },
  };
}
