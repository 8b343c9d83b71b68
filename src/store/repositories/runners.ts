import type { Selectable } from 'kysely';
import type { Db } from '../open-store.js';
import type { RunnersTable } from '../schema.js';

/** GitLab's runner access levels: `ref_protected` runners run only jobs of protected refs. */
export type RunnerAccessLevel = 'not_protected' | 'ref_protected';

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
   * PostgreSQL (SQLite's write transactions are serial anyway). Call inside a transaction.
   */
  async lock(
    id: number,
    mode: 'claim' | 'delete',
    dialect: 'sqlite' | 'postgres',
  ): Promise<RunnerRecord | undefined> {
    let query = this.db.selectFrom('runners').selectAll().where('id', '=', id);
    if (dialect === 'postgres') query = mode === 'claim' ? query.forShare() : query.forUpdate();
    const row = await query.executeTakeFirst();
    return row && toRunner(row);
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
