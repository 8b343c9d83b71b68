import type { CreateTableBuilder, Kysely } from 'kysely';

type Dialect = 'sqlite' | 'postgres';

const ZERO_SHA = '0000000000000000000000000000000000000000';

/**
 * Pipelines that start themselves (DESIGN 12): a pipeline's `CI_COMMIT_BEFORE_SHA` (what the ref
 * pointed at before a push; zeros otherwise, as GitLab), trigger tokens (only their SHA-256 is kept), pipeline
 * schedules with their variables and the pipelines each one started, and the pull-mirroring state
 * of a project (the refs last seen on its repository, when it is next looked at, and the lease of
 * the node looking at it).
 */
export function triggersMigration(dialect: Dialect) {
  const id = <T extends string>(table: CreateTableBuilder<T, never>) =>
    dialect === 'postgres'
      ? table.addColumn('id', 'serial', (c) => c.primaryKey())
      : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .alterTable('pipelines')
        .addColumn('before_sha', 'text', (c) => c.notNull().defaultTo(ZERO_SHA))
        .execute();

      await id(db.schema.createTable('pipeline_triggers'))
        .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id'))
        .addColumn('owner_id', 'integer', (c) => c.notNull().references('users.id'))
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('token_start', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .execute();

      await id(db.schema.createTable('pipeline_schedules'))
        .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id'))
        .addColumn('owner_id', 'integer', (c) => c.notNull().references('users.id'))
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('ref', 'text', (c) => c.notNull())
        .addColumn('cron', 'text', (c) => c.notNull())
        .addColumn('cron_timezone', 'text', (c) => c.notNull())
        .addColumn('active', 'integer', (c) => c.notNull())
        .addColumn('next_run_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('pipeline_schedules_due')
        .on('pipeline_schedules')
        .columns(['active', 'next_run_at'])
        .execute();

      await id(db.schema.createTable('pipeline_schedule_variables'))
        .addColumn('schedule_id', 'integer', (c) => c.notNull().references('pipeline_schedules.id'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('variable_type', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('pipeline_schedule_variables_key')
        .on('pipeline_schedule_variables')
        .columns(['schedule_id', 'key'])
        .unique()
        .execute();

      await db.schema
        .createTable('pipeline_schedule_runs')
        .addColumn('schedule_id', 'integer', (c) => c.notNull())
        .addColumn('pipeline_id', 'integer', (c) => c.notNull().primaryKey())
        .execute();
      await db.schema
        .createIndex('pipeline_schedule_runs_schedule')
        .on('pipeline_schedule_runs')
        .columns(['schedule_id', 'pipeline_id'])
        .execute();

      await db.schema
        .createTable('project_mirrors')
        .addColumn('project_id', 'integer', (c) => c.primaryKey().references('projects.id'))
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('trigger_builds', 'integer', (c) => c.notNull())
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
        .addColumn('only_protected_branches', 'integer', (c) => c.notNull())
        .addColumn('overwrites_diverged_branches', 'integer', (c) => c.notNull())
        .addColumn('webhook_secret', 'text')
        .addColumn('known_refs', 'text')
        .addColumn('next_check_at', 'bigint', (c) => c.notNull())
        .addColumn('lease_owner', 'text')
        .addColumn('lease_expires_at', 'bigint')
        .addColumn('last_update_at', 'bigint')
        .addColumn('last_successful_update_at', 'bigint')
        .addColumn('last_error', 'text')
        .execute();
      await db.schema
        .createIndex('project_mirrors_due')
        .on('project_mirrors')
        .columns(['enabled', 'next_check_at'])
        .execute();
    },
  };
}
