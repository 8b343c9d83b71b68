import { type Selectable, sql } from 'kysely';
import type { Db } from '../open-store.js';
import { type Page, type PageWindow, readPage } from '../page-query.js';
import type { RunnersTable } from '../schema.js';

/** GitLab's runner access levels: `ref_protected` runners run only jobs of protected refs. */
export type RunnerAccessLevel = 'not_protected' | 'ref_protected';

/** GitLab's thresholds: online within two hours, stale after a week without contact. */
export const ONLINE_WITHIN_MS = 2 * 60 * 60 * 1000;
export const STALE_AFTER_MS = 7 * 24 * 60 * 60 * 1000;

/** What a runner list keeps (every condition must hold). */
export interface RunnerListFilter {
  now: number;
  types?: Array<'instance_type' | 'group_type' | 'project_type'>;
  paused?: boolean;
  statuses?: Array<'online' | 'offline' | 'stale' | 'never_contacted'>;
  /** Runners having every one of these tags. */
  tags?: string[];
  /** Only runners this user owns. */
  ownedBy?: number;
}

/** A stored runner (its token hash is not part of the record). */
export interface RunnerRecord
  extends Omit<Selectable<RunnersTable>, 'tagList' | 'runUntagged' | 'paused' | 'accessLevel' | 'tokenHash'> {
  tagList: string[];
  runUntagged: boolean;
  paused: boolean;
  accessLevel: RunnerAccessLevel;
}

/** What `PUT /runners/:id` may change. */
export type RunnerChanges = Partial<
  Pick<RunnerRecord, 'description' | 'tagList' | 'runUntagged' | 'paused' | 'accessLevel' | 'maximumTimeout'>
>;

function toRunner(row: Selectable<RunnersTable>): RunnerRecord {
  const { tokenHash: _hash, ...rest } = row;
  return {
    ...rest,
    tagList: JSON.parse(row.tagList) as string[],
    runUntagged: row.runUntagged === 1,
    paused: row.paused === 1,
    accessLevel: row.accessLevel === 'ref_protected' ? 'ref_protected' : 'not_protected',
  };
}

/** Runners. */
export class RunnerRepository {
  constructor(private readonly db: Db) {}

  async create(
    input: Omit<RunnerRecord, 'id' | 'contactedAt'> & { tokenHash: string },
  ): Promise<RunnerRecord> {
    const row = await this.db
      .insertInto('runners')
      .values({
        ...input,
        tagList: JSON.stringify(input.tagList),
        runUntagged: input.runUntagged ? 1 : 0,
        paused: input.paused ? 1 : 0,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toRunner(row);
  }

  async findById(id: number): Promise<RunnerRecord | undefined> {
    const row = await this.db.selectFrom('runners').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRunner(row);
  }

  /** The runner whose token hash is `tokenHash`, with the stored hash for a constant-time check. */
  async findByTokenHash(
    tokenHash: string,
  ): Promise<{ runner: RunnerRecord; storedHash: string } | undefined> {
    const row = await this.db
      .selectFrom('runners')
      .selectAll()
      .where('tokenHash', '=', tokenHash)
      .executeTakeFirst();
    return row && { runner: toRunner(row), storedHash: row.tokenHash };
  }

  /**
   * Reads the runner and locks its row until the transaction ends: shared for a claim (`forClaim`),
   * exclusive for a deletion, so a runner's deletion and a claim by it never interleave on
   * PostgreSQL (SQLite's write transactions are serial anyway). Call inside a transaction. With
   * `tokenHash`, only while the runner's token still hashes to it (undefined after a reset).
   */
  async lock(
    id: number,
    mode: 'claim' | 'delete',
    dialect: 'sqlite' | 'postgres',
    tokenHash?: string,
  ): Promise<RunnerRecord | undefined> {
    let query = this.db.selectFrom('runners').selectAll().where('id', '=', id);
    if (tokenHash !== undefined) query = query.where('tokenHash', '=', tokenHash);
    if (dialect === 'postgres') query = mode === 'claim' ? query.forShare() : query.forUpdate();
    const row = await query.executeTakeFirst();
    return row && toRunner(row);
  }

  /**
   * One page of runners passing GitLab's list filters, oldest first, read in SQL. `ownedBy` keeps
   * the runners that user owns (see `ownsRunner`: Maintainers of a project runner's project,
   * Owners of a group runner's group or an ancestor, roles inherited down the tree).
   */
  async page(
    filter: RunnerListFilter,
    window: PageWindow,
    dialect: 'sqlite' | 'postgres',
  ): Promise<Page<RunnerRecord>> {
    let query = this.db.selectFrom('runners').selectAll();
    if (filter.types !== undefined) query = query.where('runnerType', 'in', filter.types);
    if (filter.paused !== undefined) query = query.where('paused', '=', filter.paused ? 1 : 0);
    const { now } = filter;
    const stale = now - STALE_AFTER_MS;
    const online = now - ONLINE_WITHIN_MS;
    for (const status of filter.statuses ?? []) {
      const notStale = sql<boolean>`coalesce(contacted_at, created_at) >= ${stale}`;
      query = query.where(
        status === 'stale'
          ? sql<boolean>`coalesce(contacted_at, created_at) < ${stale}`
          : status === 'never_contacted'
            ? sql<boolean>`${notStale} and contacted_at is null`
            : status === 'online'
              ? sql<boolean>`${notStale} and contacted_at > ${online}`
              : sql<boolean>`${notStale} and contacted_at <= ${online}`,
      );
    }
    for (const tag of filter.tags ?? []) {
      query = query.where(
        dialect === 'postgres'
          ? sql<boolean>`(runners.tag_list::jsonb) @> jsonb_build_array(${tag}::text)`
          : sql<boolean>`exists (select 1 from json_each(runners.tag_list) where value = ${tag})`,
      );
    }
    if (filter.ownedBy !== undefined) {
      const userId = filter.ownedBy;
      query = query.where(sql<boolean>`(
        (runners.runner_type = 'project_type' and exists (
          select 1 from projects p where p.id = runners.project_id and (
            exists (select 1 from members m where m.source_type = 'project' and m.source_id = p.id
              and m.user_id = ${userId} and m.access_level >= 40)
            or exists (select 1 from members m join groups a on a.id = m.source_id
              where m.source_type = 'group' and m.user_id = ${userId} and m.access_level >= 40
              and substr(p.path_with_namespace, 1, length(a.full_path) + 1) = a.full_path || '/'))))
        or (runners.runner_type = 'group_type' and exists (
          select 1 from groups g join members m on m.source_type = 'group' and m.user_id = ${userId}
            and m.access_level >= 50
          join groups a on a.id = m.source_id
          where g.id = runners.group_id
            and (a.id = g.id or substr(g.full_path, 1, length(a.full_path) + 1) = a.full_path || '/'))))`);
    }
    const page = await readPage(query.orderBy('id'), window);
    return { items: page.items.map(toRunner), total: page.total };
  }

  async list(): Promise<RunnerRecord[]> {
    return (await this.db.selectFrom('runners').selectAll().orderBy('id').execute()).map(toRunner);
  }

  async touch(id: number, now: number): Promise<void> {
    await this.db.updateTable('runners').set({ contactedAt: now }).where('id', '=', id).execute();
  }

  /** Applies `changes` and answers the runner as it is now, or undefined when it is gone. */
  async update(id: number, changes: RunnerChanges): Promise<RunnerRecord | undefined> {
    const { tagList, runUntagged, paused, ...rest } = changes;
    const row = await this.db
      .updateTable('runners')
      .set({
        ...rest,
        ...(tagList === undefined ? {} : { tagList: JSON.stringify(tagList) }),
        ...(runUntagged === undefined ? {} : { runUntagged: runUntagged ? 1 : 0 }),
        ...(paused === undefined ? {} : { paused: paused ? 1 : 0 }),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && toRunner(row);
  }

  /** Replaces the runner's token hash when it is still `currentHash`; answers whether it was. */
  async replaceTokenHash(id: number, currentHash: string, newHash: string): Promise<boolean> {
    const result = await this.db
      .updateTable('runners')
      .set({ tokenHash: newHash })
      .where('id', '=', id)
      .where('tokenHash', '=', currentHash)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('runners').where('id', '=', id).execute();
  }
}
