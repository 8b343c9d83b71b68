import { type Kysely, sql } from 'kysely';

type Dialect = 'sqlite' | 'postgres';

/**
 * A deleted project's paths stay burned (DESIGN 3.3): `project_path_history` keeps the rows of a
 * project that no longer exists, so its `project_id` no longer references `projects`. PostgreSQL
 * drops the constraint; SQLite, which cannot, rebuilds the small table without it.
 */
export function pathHistoryOutlivesProjectsMigration(dialect: Dialect) {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      if (dialect === 'postgres') {
        await sql`alter table project_path_history drop constraint if exists project_path_history_project_id_fkey`.execute(
          db,
        );
        return;
      }
      await sql`create table project_path_history_new (
        id integer primary key autoincrement,
        path text not null,
        project_id integer not null,
        created_at bigint not null
      )`.execute(db);
      await sql`insert into project_path_history_new (id, path, project_id, created_at)
        select id, path, project_id, created_at from project_path_history`.execute(db);
      await sql`drop table project_path_history`.execute(db);
      await sql`alter table project_path_history_new rename to project_path_history`.execute(db);
      await sql`create unique index project_path_history_path on project_path_history (path, project_id)`.execute(
        db,
      );
    },
  };
}
