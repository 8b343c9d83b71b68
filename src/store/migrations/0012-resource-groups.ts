import type { Kysely } from 'kysely';

/**
 * GitLab's resource groups: per project, a key and a process mode; a job with `resource_group`
 * waits (`waiting_for_resource`) until no other job of its group is pending or running.
 */
export function resourceGroupsMigration(dialect: 'sqlite' | 'postgres') {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const table = db.schema.createTable('resource_groups');
      await (dialect === 'postgres'
        ? table.addColumn('id', 'serial', (c) => c.primaryKey())
        : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      )
        .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('process_mode', 'text', (c) => c.notNull().defaultTo('unordered'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('resource_groups_project_key', ['project_id', 'key'])
        .execute();
      await db.schema
        .createTable('job_resource_groups')
        .addColumn('job_id', 'integer', (c) => c.primaryKey().references('jobs.id').onDelete('cascade'))
        .addColumn('resource_group_id', 'integer', (c) => c.notNull().references('resource_groups.id'))
        .execute();
      await db.schema
        .createIndex('job_resource_groups_group')
        .on('job_resource_groups')
        .column('resource_group_id')
        .execute();
    },
  };
}
