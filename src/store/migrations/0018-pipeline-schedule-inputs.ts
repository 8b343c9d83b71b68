import type { Kysely } from 'kysely';

/**
 * Pipeline inputs of a schedule (GitLab 17.11's `inputs` of the pipeline schedules API):
 * `pipeline_schedules.inputs` holds them as a JSON object of name → value, `NULL` for none.
 */
export const pipelineScheduleInputsMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('pipeline_schedules').addColumn('inputs', 'text').execute();
  },
};
