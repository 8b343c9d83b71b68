import { SqliteAdapter } from 'kysely';
import type { Db } from '../store/open-store.js';

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
 * The pending `candidates` a runner may claim as far as resource groups go: a job whose group has
 * a running job waits, and of the waiting jobs of one group only the one its process mode picks is
 * offered (`unordered` and `oldest_first`: the oldest pipeline's; `newest_first`: the newest's).
 */
export async function claimableByResourceGroup(
  db: Db,
  candidates: readonly { id: number; pipelineId: number }[],
): Promise<number[]> {
  if (candidates.length === 0) return [];
  const grouped = await db
    .selectFrom('jobResourceGroups')
    .innerJoin('resourceGroups', 'resourceGroups.id', 'jobResourceGroups.resourceGroupId')
    .select(['jobResourceGroups.jobId', 'jobResourceGroups.resourceGroupId', 'resourceGroups.processMode'])
    .where(
      'jobResourceGroups.jobId',
      'in',
      candidates.map((candidate) => candidate.id),
    )
    .execute();
  if (grouped.length === 0) return candidates.map((candidate) => candidate.id);
  const groupIds = [...new Set(grouped.map((row) => row.resourceGroupId))];
  const busy = new Set(
    (
      await db
        .selectFrom('jobResourceGroups')
        .innerJoin('jobs', 'jobs.id', 'jobResourceGroups.jobId')
        .select('jobResourceGroups.resourceGroupId')
        .where('jobResourceGroups.resourceGroupId', 'in', groupIds)
        .where('jobs.status', '=', 'running')
        .execute()
    ).map((row) => row.resourceGroupId),
  );
  const groupOf = new Map(grouped.map((row) => [row.jobId, row]));
  const chosen = new Map<number, { id: number; pipelineId: number }>();
  for (const candidate of candidates) {
    const row = groupOf.get(candidate.id);
    if (row === undefined || busy.has(row.resourceGroupId)) continue;
    const current = chosen.get(row.resourceGroupId);
    const newer = current === undefined || candidate.pipelineId > current.pipelineId;
    const older = current === undefined || candidate.pipelineId < current.pipelineId;
    if (row.processMode === 'newest_first' ? newer : older) chosen.set(row.resourceGroupId, candidate);
  }
  const offered = new Set([...chosen.values()].map((candidate) => candidate.id));
  return candidates
    .filter((candidate) => !groupOf.has(candidate.id) || offered.has(candidate.id))
    .map((candidate) => candidate.id);
}

/**
 * Inside the claim's transaction: whether job `jobId` may start now, its resource group (if any)
 * having no running job. Locks the group's row on PostgreSQL, so that two coordinators claiming
 * two jobs of one group at the same moment start only one of them.
 */
export async function resourceGroupFree(db: Db, jobId: number): Promise<boolean> {
  const row = await db
    .selectFrom('jobResourceGroups')
    .select('resourceGroupId')
    .where('jobId', '=', jobId)
    .executeTakeFirst();
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
