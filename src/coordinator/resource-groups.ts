import { SqliteAdapter, sql } from 'kysely';
import type { Db } from '../store/open-store.js';
import { type Page, type PageWindow, readPage } from '../store/page-query.js';

/** GitLab's process modes: which waiting job of a resource group runs next. */
export const PROCESS_MODES = ['unordered', 'oldest_first', 'newest_first'] as const;

/** Files job `jobId` under the resource group `key` of its project (made on first use). */
export async function attachResourceGroup(
  db: Db,
  projectId: number,
  jobId: number,
  key: string | null | undefined,
  now: number,
): Promise<void> {
  if (key == null) return;
  await db
    .insertInto('resourceGroups')
    .values({ projectId, key, processMode: 'unordered', createdAt: now, updatedAt: now })
    .onConflict((conflict) => conflict.columns(['projectId', 'key']).doNothing())
    .execute();
  const group = await db
    .selectFrom('resourceGroups')
    .select('id')
    .where('projectId', '=', projectId)
    .where('key', '=', key)
    .executeTakeFirstOrThrow();
  await db.insertInto('jobResourceGroups').values({ jobId, resourceGroupId: group.id }).execute();
}

/**
 * Inside the claim's transaction: whether job `jobId` may start now, its resource group (if any)
 * having no running job. `known`: the job's group as the caller read it already. Locks the group's row on PostgreSQL, so that two coordinators claiming
 * two jobs of one group at the same moment start only one of them.
 */
export async function resourceGroupFree(
  db: Db,
  jobId: number,
  known?: { resourceGroupId: number | null },
): Promise<boolean> {
  const row =
    known === undefined
      ? await db
          .selectFrom('jobResourceGroups')
          .select('resourceGroupId')
          .where('jobId', '=', jobId)
          .executeTakeFirst()
      : known.resourceGroupId === null
        ? undefined
        : { resourceGroupId: known.resourceGroupId };
  if (row === undefined) return true;
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) {
    await db
      .selectFrom('resourceGroups')
      .select('id')
      .where('id', '=', row.resourceGroupId)
      .forUpdate()
      .execute();
  }
  const running = await db
    .selectFrom('jobResourceGroups')
    .innerJoin('jobs', 'jobs.id', 'jobResourceGroups.jobId')
    .select('jobs.id')
    .where('jobResourceGroups.resourceGroupId', '=', row.resourceGroupId)
    .where('jobs.status', '=', 'running')
    .where('jobs.id', '!=', jobId)
    .executeTakeFirst();
  return running === undefined;
}

/**
 * Inside the claim's transaction: whether job `jobId` may start now. Its resource group (if any)
 * must have no running job ({@link resourceGroupFree}), and with `oldest_first` or `newest_first`
 * it must be the group's waiting job of the oldest or newest pipeline (`unordered`: any of them).
 * `known`: the job's group as the caller read it already (the claim reads it with the job).
 */
export async function resourceGroupAllows(
  db: Db,
  jobId: number,
  known?: { resourceGroupId: number | null },
): Promise<boolean> {
  // The claim read the job's group with the job: a job of no group needs no look at all.
  if (known?.resourceGroupId === null) return true;
  if (!(await resourceGroupFree(db, jobId, known))) return false;
  const group = await db
    .selectFrom('jobResourceGroups')
    .innerJoin('resourceGroups', 'resourceGroups.id', 'jobResourceGroups.resourceGroupId')
    .select(['resourceGroups.id', 'resourceGroups.processMode'])
    .where('jobResourceGroups.jobId', '=', jobId)
    .executeTakeFirst();
  if (group === undefined || group.processMode === 'unordered') return true;
  const next = await db
    .selectFrom('jobResourceGroups')
    .innerJoin('jobs', 'jobs.id', 'jobResourceGroups.jobId')
    .select('jobs.id')
    .where('jobResourceGroups.resourceGroupId', '=', group.id)
    .where('jobs.status', '=', 'pending')
    .orderBy('jobs.pipelineId', group.processMode === 'newest_first' ? 'desc' : 'asc')
    .orderBy('jobs.id')
    .limit(1)
    .executeTakeFirst();
  return next === undefined || next.id === jobId;
}

/**
 * GitLab's upcoming jobs of resource group `group` (`GET …/resource_groups/:key/upcoming_jobs`),
 * one page of their ids in the order its process mode runs them. `unordered`: the group's jobs
 * waiting for it (Tessera's `pending`, GitLab's `waiting_for_resource`), oldest job first.
 * `oldest_first` and `newest_first`: also the jobs not yet queued (`created`, `scheduled`), by
 * pipeline (oldest or newest first), in a pipeline the waiting ones first, as GitLab sorts them.
 */
export async function upcomingResourceGroupJobs(
  db: Db,
  group: { id: number; processMode: string },
  window: PageWindow,
): Promise<Page<{ id: number }>> {
  const ordered = group.processMode === 'oldest_first' || group.processMode === 'newest_first';
  let query = db
    .selectFrom('jobResourceGroups')
    .innerJoin('jobs', 'jobs.id', 'jobResourceGroups.jobId')
    .select('jobs.id')
    .where('jobResourceGroups.resourceGroupId', '=', group.id)
    .where('jobs.status', 'in', ordered ? ['pending', 'created', 'scheduled'] : ['pending']);
  if (ordered) {
    query = query
      .orderBy('jobs.pipelineId', group.processMode === 'newest_first' ? 'desc' : 'asc')
      .orderBy(sql`case when ${sql.ref('jobs.status')} = 'pending' then 0 else 1 end`);
  }
  return readPage(query.orderBy('jobs.id'), window);
}
