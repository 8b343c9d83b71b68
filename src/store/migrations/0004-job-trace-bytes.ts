import type { Kysely } from 'kysely';

/**
 * Counts job-log bytes as the runner sent them, and keeps the bytes of a UTF-8 character split
 * across two `PATCH …/trace` chunks until the rest arrives, so `Content-Range` offsets stay exact
 * and the stored text never holds a replacement character at a chunk boundary.
 */
export const jobTraceBytesMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('job_traces')
      .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .alterTable('job_traces')
      .addColumn('pending', 'text', (c) => c.notNull().defaultTo(''))
      .execute();
  },
};
