import type { Kysely } from 'kysely';

/**
 * Job artifacts: one row per file a job uploaded (`archive`, `metadata`, each report type), the
 * store key where its bytes live, their size and sha256, and when they expire (`null`: kept).
 * `dotenv` rows also hold the variables read from them. Projects get GitLab's
 * `max_artifacts_size` (MB; `null` uses the instance's).
 */
export function jobArtifactsMigration(dialect: 'sqlite' | 'postgres') {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const table = db.schema.createTable('job_artifacts');
      await (dialect === 'postgres'
        ? table.addColumn('id', 'serial', (c) => c.primaryKey())
        : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      )
        .addColumn('job_id', 'integer', (c) => c.notNull().references('jobs.id').onDelete('cascade'))
        .addColumn('project_id', 'integer', (c) => c.notNull())
        .addColumn('file_type', 'text', (c) => c.notNull())
        .addColumn('file_format', 'text', (c) => c.notNull())
        .addColumn('file_name', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('store_key', 'text', (c) => c.notNull())
        .addColumn('variables', 'text')
        .addColumn('expire_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('job_artifacts_job_type', ['job_id', 'file_type'])
        .execute();
      await db.schema
        .createIndex('job_artifacts_expire')
        .on('job_artifacts')
        .columns(['expire_at'])
        .execute();
      await db.schema
        .createIndex('job_artifacts_project')
        .on('job_artifacts')
        .columns(['project_id'])
        .execute();
      await db.schema.alterTable('projects').addColumn('max_artifacts_size', 'integer').execute();
    },
  };
}
