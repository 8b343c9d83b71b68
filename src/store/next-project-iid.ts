import { SqliteAdapter, sql } from 'kysely';
import type { Db } from './open-store.js';

/**
 * The next per-project `iid` of `table` (GitLab's project-scoped numbers). Call inside the
 * transaction that inserts the row: on PostgreSQL the project's row is locked first, so two rows
 * created at once for one project cannot take the same iid; SQLite write transactions are
 * serialised already.
 */
export async function nextProjectIid(
  db: Db,
  table: 'pipelines' | 'deployments',
  projectId: number,
): Promise<number> {
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) {
    await db.selectFrom('projects').select('id').where('id', '=', projectId).forUpdate().execute();
  }
  const last = await db
    .selectFrom(table)
    .select(sql<number>`coalesce(max(iid), 0)`.as('iid'))
    .where('projectId', '=', projectId)
    .executeTakeFirst();
  return Number(last?.iid ?? 0) + 1;
}
