import { type Kysely, sql } from 'kysely';

/**
 * Deployments made through the API by an external tool (GitLab's `POST /projects/:id/deployments`),
 * which have no job: `job_id` becomes nullable, and such a deployment keeps its own `status`,
 * `user_id`, `tag`, `finished_at` and `updated_at`. A job's deployment still reads all of these from
 * its job, so they stay null on its row; a CHECK keeps exactly one source of the status per row.
 *
 * PostgreSQL alters the table in place. SQLite cannot drop a NOT NULL, so the table is rebuilt as
 * SQLite's documentation recommends (create the new table, copy every row with its id, drop the
 * old one, rename, create the indexes again); nothing references `deployments`, so no foreign key
 * has to be switched off.
 */
export function externalDeploymentsMigration(dialect: 'sqlite' | 'postgres') {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      if (dialect === 'postgres') {
        await sql`alter table deployments alter column job_id drop not null`.execute(db);
        await sql`alter table deployments
          add column status text,
          add column user_id integer,
          add column tag integer,
          add column finished_at bigint,
          add column updated_at bigint,
          add constraint deployments_status_or_job check ((job_id is null) = (status is not null))`.execute(
          db,
        );
        return;
      }
      await sql`create table deployments_new (
        id integer primary key autoincrement,
        iid integer not null,
        project_id integer not null references projects (id),
        environment_id integer not null references environments (id),
        job_id integer,
        ref text not null,
        sha text not null,
        created_at bigint not null,
        status text,
        user_id integer,
        tag integer,
        finished_at bigint,
        updated_at bigint,
        constraint deployments_project_iid unique (project_id, iid),
        constraint deployments_status_or_job check ((job_id is null) = (status is not null))
      )`.execute(db);
      await sql`insert into deployments_new (id, iid, project_id, environment_id, job_id, ref, sha, created_at)
        select id, iid, project_id, environment_id, job_id, ref, sha, created_at from deployments`.execute(
        db,
      );
      await sql`drop table deployments`.execute(db);
      await sql`alter table deployments_new rename to deployments`.execute(db);
      await sql`create index deployments_environment on deployments (environment_id)`.execute(db);
      await sql`create index deployments_job on deployments (job_id)`.execute(db);
    },
  };
}
