import { type Kysely, sql } from 'kysely';

/**
 * The queue a claim reads, apart from the jobs table (GitLab's `ci_pending_builds` and
 * `ci_running_builds`): `pending_jobs` holds what eligibility is decided on for each pending job
 * (project, pipeline, tags, bridge), `running_jobs` the project of each running job (fair usage).
 * A job row is wide (its spec) and is rewritten at every change of state, so on a busy instance
 * the pending and running jobs are spread thinly over a table full of dead versions, and a claim
 * that reads the queue read a page per job; these rows are a few dozen bytes.
 *
 * Triggers on `jobs` keep both in step with every change of a job's status, whatever writes it
 * (a claim, a report, a cancel, a lease expiry, a delete), in the same transaction; the queue
 * rows are only ever written there, after the job's own row, so they add no new lock order. Jobs
 * pending or running when this runs are copied in.
 */
export function jobQueueMigration(dialect: 'sqlite' | 'postgres') {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('pending_jobs')
        .addColumn('job_id', 'integer', (c) => c.primaryKey())
        .addColumn('project_id', 'integer', (c) => c.notNull())
        .addColumn('pipeline_id', 'integer', (c) => c.notNull())
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('bridge', 'integer', (c) => c.notNull())
        .execute();
      // A project runner reads its project's pending jobs only, oldest first.
      await db.schema
        .createIndex('pending_jobs_project')
        .on('pending_jobs')
        .columns(['project_id', 'job_id'])
        .execute();
      await db.schema
        .createTable('running_jobs')
        .addColumn('job_id', 'integer', (c) => c.primaryKey())
        .addColumn('project_id', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('running_jobs_project').on('running_jobs').column('project_id').execute();
      await sql`insert into pending_jobs (job_id, project_id, pipeline_id, tags, bridge)
        select id, project_id, pipeline_id, tags, bridge from jobs where status = 'pending'`.execute(db);
      await sql`insert into running_jobs (job_id, project_id)
        select id, project_id from jobs where status = 'running'`.execute(db);
      if (dialect === 'postgres') {
        await sql`create function jobs_follow_queue() returns trigger language plpgsql as $$
          begin
            if tg_op <> 'INSERT' and (tg_op = 'DELETE' or new.status is distinct from old.status) then
              if old.status = 'pending' then
                delete from pending_jobs where job_id = old.id;
              elsif old.status = 'running' then
                delete from running_jobs where job_id = old.id;
              end if;
            end if;
            if tg_op <> 'DELETE' and (tg_op = 'INSERT' or new.status is distinct from old.status) then
              if new.status = 'pending' then
                insert into pending_jobs (job_id, project_id, pipeline_id, tags, bridge)
                values (new.id, new.project_id, new.pipeline_id, new.tags, new.bridge);
              elsif new.status = 'running' then
                insert into running_jobs (job_id, project_id) values (new.id, new.project_id);
              end if;
            end if;
            return null;
          end $$`.execute(db);
        await sql`create trigger jobs_follow_queue after insert or update of status or delete on jobs
          for each row execute function jobs_follow_queue()`.execute(db);
        return;
      }
      const enter = (row: 'new') =>
        sql.raw(`
        insert into pending_jobs (job_id, project_id, pipeline_id, tags, bridge)
          select ${row}.id, ${row}.project_id, ${row}.pipeline_id, ${row}.tags, ${row}.bridge where ${row}.status = 'pending';
        insert into running_jobs (job_id, project_id) select ${row}.id, ${row}.project_id where ${row}.status = 'running';`);
      const leave = sql.raw(`
        delete from pending_jobs where job_id = old.id and old.status = 'pending';
        delete from running_jobs where job_id = old.id and old.status = 'running';`);
      await sql`create trigger jobs_enter_queue after insert on jobs begin ${enter('new')} end`.execute(db);
      await sql`create trigger jobs_follow_queue after update of status on jobs
        when new.status is not old.status begin ${leave} ${enter('new')} end`.execute(db);
      await sql`create trigger jobs_leave_queue after delete on jobs begin ${leave} end`.execute(db);
    },
  };
}
