import type { Selectable } from 'kysely';
import type { Db } from '../open-store.js';
import type { RunnersTable } from '../schema.js';

/** A stored runner (its token hash is not part of the record). */
export interface RunnerRecord
  extends Omit<Selectable<RunnersTable>, 'tagList' | 'runUntagged' | 'paused' | 'tokenHash'> {
  tagList: string[];
  runUntagged: boolean;
  paused: boolean;
}

function toRunner(row: Selectable<RunnersTable>): RunnerRecord {
  const { tokenHash: _hash, ...rest } = row;
  return {
    ...rest,
    tagList: JSON.parse(row.tagList) as string[],
    runUntagged: row.runUntagged === 1,
    paused: row.paused === 1,
  };
}

/** Runners. */
export class RunnerRepository {
  constructor(private readonly db: Db) {}

  async create(
    input: Omit<RunnerRecord, 'id' | 'paused' | 'contactedAt'> & { tokenHash: string },
  ): Promise<RunnerRecord> {
    const row = await this.db
      .insertInto('runners')
      .values({
        ...input,
        tagList: JSON.stringify(input.tagList),
        runUntagged: input.runUntagged ? 1 : 0,
        paused: 0,
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

  async list(): Promise<RunnerRecord[]> {
    return (await this.db.selectFrom('runners').selectAll().orderBy('id').execute()).map(toRunner);
  }

  async touch(id: number, now: number): Promise<void> {
    await this.db.updateTable('runners').set({ contactedAt: now }).where('id', '=', id).execute();
  }

  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('runners').where('id', '=', id).execute();
  }
}
