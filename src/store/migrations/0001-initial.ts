import type { ColumnDefinitionBuilder, CreateTableBuilder, Kysely } from 'kysely';

type Dialect = 'sqlite' | 'postgres';

/**
 * The first schema. Written with snake_case names on a Kysely without plugins; the repositories
 * see them as camelCase. Each dialect gets its own auto-increment column type, nothing else differs.
 */
export function initialMigration(dialect: Dialect) {
  const id = <T extends string>(table: CreateTableBuilder<T, never>) =>
    dialect === 'postgres'
      ? table.addColumn('id', 'serial', (c) => c.primaryKey())
      : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
  const notNull = (c: ColumnDefinitionBuilder) => c.notNull();

  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await id(db.schema.createTable('users'))
        .addColumn('username', 'text', (c) => c.notNull().unique())
        .addColumn('email', 'text', notNull)
        .addColumn('name', 'text', notNull)
        .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('state', 'text', (c) => c.notNull().defaultTo('active'))
        .addColumn('created_at', 'bigint', notNull)
        .execute();

      await id(db.schema.createTable('personal_access_tokens'))
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
        .addColumn('name', 'text', notNull)
        .addColumn('scopes', 'text', notNull)
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('revoked', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', notNull)
        .addColumn('expires_at', 'bigint')
        .addColumn('last_used_at', 'bigint')
        .execute();

      await id(db.schema.createTable('groups'))
        .addColumn('name', 'text', notNull)
        .addColumn('path', 'text', notNull)
        .addColumn('full_path', 'text', (c) => c.notNull().unique())
        .addColumn('parent_id', 'integer', (c) => c.references('groups.id'))
        .addColumn('visibility', 'text', notNull)
        .addColumn('created_at', 'bigint', notNull)
        .execute();

      await id(db.schema.createTable('projects'))
        .addColumn('name', 'text', notNull)
        .addColumn('path', 'text', notNull)
        .addColumn('namespace_id', 'integer', (c) => c.notNull().references('groups.id'))
        .addColumn('path_with_namespace', 'text', (c) => c.notNull().unique())
        .addColumn('visibility', 'text', notNull)
        .addColumn('repository_url', 'text', notNull)
        .addColumn('default_branch', 'text', notNull)
        .addColumn('ci_config_path', 'text', notNull)
        .addColumn('sub_claim_components', 'text', notNull)
        .addColumn('allowed_audiences', 'text')
        .addColumn('token_max_lifetime', 'integer')
        .addColumn('job_timeout', 'integer')
        .addColumn('created_at', 'bigint', notNull)
        .addColumn('updated_at', 'bigint', notNull)
        .execute();

      await id(db.schema.createTable('project_path_history'))
        .addColumn('path', 'text', notNull)
        .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id'))
        .addColumn('created_at', 'bigint', notNull)
        .execute();
      await db.schema
        .createIndex('project_path_history_path')
        .on('project_path_history')
        .columns(['path', 'project_id'])
        .unique()
        .execute();

      await id(db.schema.createTable('members'))
        .addColumn('source_type', 'text', notNull)
        .addColumn('source_id', 'integer', notNull)
        .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id'))
        .addColumn('access_level', 'integer', notNull)
        .addColumn('created_at', 'bigint', notNull)
        .addUniqueConstraint('members_source_user', ['source_type', 'source_id', 'user_id'])
        .execute();

      await id(db.schema.createTable('protected_refs'))
        .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id'))
        .addColumn('ref_type', 'text', notNull)
        .addColumn('name', 'text', notNull)
        .addColumn('access_level', 'integer', notNull)
        .addColumn('created_at', 'bigint', notNull)
        .addUniqueConstraint('protected_refs_name', ['project_id', 'ref_type', 'name'])
        .execute();

      await id(db.schema.createTable('environments'))
        .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id'))
        .addColumn('name', 'text', notNull)
        .addColumn('external_url', 'text')
        .addColumn('tier', 'text', notNull)
        .addColumn('state', 'text', notNull)
        .addColumn('created_at', 'bigint', notNull)
        .addUniqueConstraint('environments_name', ['project_id', 'name'])
        .execute();

      await id(db.schema.createTable('protected_environments'))
        .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id'))
        .addColumn('name', 'text', notNull)
        .addColumn('access_level', 'integer', notNull)
        .addColumn('created_at', 'bigint', notNull)
        .addUniqueConstraint('protected_environments_name', ['project_id', 'name'])
        .execute();

      await id(db.schema.createTable('project_variables'))
        .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id'))
        .addColumn('key', 'text', notNull)
        .addColumn('value', 'text', notNull)
        .addColumn('variable_type', 'text', notNull)
        .addColumn('protected', 'integer', notNull)
        .addColumn('masked', 'integer', notNull)
        .addColumn('raw', 'integer', notNull)
        .addColumn('environment_scope', 'text', notNull)
        .addColumn('created_at', 'bigint', notNull)
        .addUniqueConstraint('project_variables_key', ['project_id', 'key', 'environment_scope'])
        .execute();

      await id(db.schema.createTable('runners'))
        .addColumn('runner_type', 'text', notNull)
        .addColumn('group_id', 'integer', (c) => c.references('groups.id'))
        .addColumn('project_id', 'integer', (c) => c.references('projects.id'))
        .addColumn('description', 'text', notNull)
        .addColumn('tag_list', 'text', notNull)
        .addColumn('run_untagged', 'integer', notNull)
        .addColumn('paused', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('maximum_timeout', 'integer')
        .addColumn('created_at', 'bigint', notNull)
        .addColumn('contacted_at', 'bigint')
        .execute();

      await id(db.schema.createTable('pipelines'))
        .addColumn('iid', 'integer', notNull)
        .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id'))
        .addColumn('sha', 'text', notNull)
        .addColumn('ref', 'text', notNull)
        .addColumn('ref_type', 'text', notNull)
        .addColumn('source', 'text', notNull)
        .addColumn('status', 'text', notNull)
        .addColumn('user_id', 'integer', (c) => c.references('users.id'))
        .addColumn('ci_config_path', 'text', notNull)
        .addColumn('ci_config_sha', 'text', notNull)
        .addColumn('variables', 'text', notNull)
        .addColumn('warnings', 'text', notNull)
        .addColumn('created_at', 'bigint', notNull)
        .addColumn('updated_at', 'bigint', notNull)
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .execute();
      await db.schema
        .createIndex('pipelines_project')
        .on('pipelines')
        .columns(['project_id', 'id'])
        .execute();

      await id(db.schema.createTable('jobs'))
        .addColumn('pipeline_id', 'integer', (c) => c.notNull().references('pipelines.id'))
        .addColumn('project_id', 'integer', (c) => c.notNull().references('projects.id'))
        .addColumn('name', 'text', notNull)
        .addColumn('stage', 'text', notNull)
        .addColumn('stage_index', 'integer', notNull)
        .addColumn('status', 'text', notNull)
        .addColumn('when_condition', 'text', notNull)
        .addColumn('allow_failure', 'integer', notNull)
        .addColumn('spec', 'text', notNull)
        .addColumn('needs', 'text')
        .addColumn('tags', 'text', notNull)
        .addColumn('environment_name', 'text')
        .addColumn('attempt', 'integer', notNull)
        .addColumn('retried', 'integer', notNull)
        .addColumn('user_id', 'integer', (c) => c.references('users.id'))
        .addColumn('runner_id', 'integer', (c) => c.references('runners.id'))
        .addColumn('token_hash', 'text', (c) => c.unique())
        .addColumn('request_token_hash', 'text', (c) => c.unique())
        .addColumn('timeout_seconds', 'integer', notNull)
        .addColumn('failure_reason', 'text')
        .addColumn('exit_code', 'integer')
        .addColumn('created_at', 'bigint', notNull)
        .addColumn('queued_at', 'bigint')
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .addColumn('lease_expires_at', 'bigint')
        .execute();
      await db.schema.createIndex('jobs_pipeline').on('jobs').columns(['pipeline_id', 'id']).execute();
      await db.schema.createIndex('jobs_status').on('jobs').columns(['status', 'id']).execute();

      await db.schema
        .createTable('job_traces')
        .addColumn('job_id', 'integer', (c) => c.primaryKey().references('jobs.id'))
        .addColumn('content', 'text', notNull)
        .execute();

      await db.schema
        .createTable('signing_keys')
        .addColumn('kid', 'text', (c) => c.primaryKey())
        .addColumn('alg', 'text', notNull)
        .addColumn('state', 'text', notNull)
        .addColumn('public_jwk', 'text', notNull)
        .addColumn('encrypted_private_key', 'text', notNull)
        .addColumn('created_at', 'bigint', notNull)
        .addColumn('activated_at', 'bigint')
        .addColumn('deactivated_at', 'bigint')
        .addColumn('retire_after', 'bigint')
        .addColumn('revoked_at', 'bigint')
        .execute();

      await db.schema
        .createTable('issued_tokens')
        .addColumn('jti', 'text', (c) => c.primaryKey())
        .addColumn('project_id', 'integer', notNull)
        .addColumn('pipeline_id', 'integer', notNull)
        .addColumn('job_id', 'integer', notNull)
        .addColumn('aud', 'text', notNull)
        .addColumn('sub', 'text', notNull)
        .addColumn('kid', 'text', notNull)
        .addColumn('alg', 'text', notNull)
        .addColumn('iat', 'bigint', notNull)
        .addColumn('exp', 'bigint', notNull)
        .addColumn('issued_via', 'text', notNull)
        .execute();
      await db.schema
        .createIndex('issued_tokens_project')
        .on('issued_tokens')
        .columns(['project_id', 'iat'])
        .execute();
    },
  };
}
