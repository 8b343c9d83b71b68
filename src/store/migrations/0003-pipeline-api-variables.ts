import type { Kysely } from 'kysely';

/**
 * Keeps the variables given when a pipeline was created (`POST /pipeline` `variables`) apart from
 * the YAML ones, because they outrank YAML and project variables (GitLab's precedence).
 */
export const pipelineApiVariablesMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('pipelines')
      .addColumn('api_variables', 'text', (c) => c.notNull().defaultTo('{}'))
      .execute();
  },
};
