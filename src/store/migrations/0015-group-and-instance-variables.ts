import type { Kysely } from 'kysely';

type Dialect = 'sqlite' | 'postgres';

/**
 * GitLab's group CI/CD variables (`/groups/:id/variables`) and instance variables
 * (`/admin/ci/variables`) in one table: `owner_type` is `group` (then `owner_id` is the group) or
 * `instance` (`owner_id` 0). The columns are those of `project_variables`.
 */
export function groupAndInstanceVariablesMigration(dialect: Dialect) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      const table = db.schema.createTable('ci_variables');
      await (dialect === 'postgres'
        ? table.addColumn('id', 'serial', (c) => c.primaryKey())
        : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      )
        .addColumn('owner_type', 'text', (c) => c.notNull())
        .addColumn('owner_id', 'integer', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('variable_type', 'text', (c) => c.notNull())
        .addColumn('protected', 'integer', (c) => c.notNull())
        .addColumn('masked', 'integer', (c) => c.notNull())
        .addColumn('raw', 'integer', (c) => c.notNull())
        .addColumn('environment_scope', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('ci_variables_key', ['owner_type', 'owner_id', 'key', 'environment_scope'])
        .execute();
    },
  };
}
