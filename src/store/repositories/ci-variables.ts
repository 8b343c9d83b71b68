import type { Selectable } from 'kysely';
import type { Db } from '../open-store.js';
import { type Page, type PageWindow, readPage } from '../page-query.js';
import type { CiVariablesTable } from '../schema.js';
import { variableFlagColumns, withVariableFlags } from './variables.js';

/** Who a group or instance variable belongs to: a group, or the whole instance. */
export interface VariableOwner {
  ownerType: 'group' | 'instance';
  /** The group's id, 0 for the instance. */
  ownerId: number;
}

/** A group or instance CI/CD variable. */
export interface CiVariableRecord extends Omit<Selectable<CiVariablesTable>, 'protected' | 'masked' | 'raw'> {
  protected: boolean;
  masked: boolean;
  raw: boolean;
}

const toVariable = (row: Selectable<CiVariablesTable>): CiVariableRecord => withVariableFlags(row);

/** Group and instance CI/CD variables (GitLab's `/groups/:id/variables` and `/admin/ci/variables`). */
export class CiVariableRepository {
  constructor(private readonly db: Db) {}

  async create(input: Omit<CiVariableRecord, 'id'>): Promise<CiVariableRecord> {
    const row = await this.db
      .insertInto('ciVariables')
      .values({ ...input, protected: 0, masked: 0, raw: 0, ...variableFlagColumns(input) })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toVariable(row);
  }

  /** One page of an owner's variables, oldest first. */
  async page(owner: VariableOwner, window: PageWindow): Promise<Page<CiVariableRecord>> {
    const page = await readPage(
      this.db
        .selectFrom('ciVariables')
        .selectAll()
        .where('ownerType', '=', owner.ownerType)
        .where('ownerId', '=', owner.ownerId)
        .orderBy('id'),
      window,
    );
    return { items: page.items.map(toVariable), total: page.total };
  }

  /** The variables of the instance and of `groupIds`, in no particular order. */
  async listFor(groupIds: readonly number[]): Promise<CiVariableRecord[]> {
    const rows = await this.db
      .selectFrom('ciVariables')
      .selectAll()
      .where((eb) =>
        eb.or([
          eb('ownerType', '=', 'instance'),
          ...(groupIds.length === 0
            ? []
            : [eb.and([eb('ownerType', '=', 'group'), eb('ownerId', 'in', groupIds)])]),
        ]),
      )
      .orderBy('id')
      .execute();
    return rows.map(toVariable);
  }

  async find(owner: VariableOwner, key: string): Promise<CiVariableRecord | undefined> {
    const row = await this.db
      .selectFrom('ciVariables')
      .selectAll()
      .where('ownerType', '=', owner.ownerType)
      .where('ownerId', '=', owner.ownerId)
      .where('key', '=', key)
      .executeTakeFirst();
    return row && toVariable(row);
  }

  async update(
    id: number,
    changes: Partial<Pick<CiVariableRecord, 'value' | 'protected' | 'masked' | 'raw' | 'variableType'>>,
  ): Promise<CiVariableRecord> {
    const { protected: _p, masked: _m, raw: _r, ...rest } = changes;
    const row = await this.db
      .updateTable('ciVariables')
      .set({ ...rest, ...variableFlagColumns(changes) })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toVariable(row);
  }

  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('ciVariables').where('id', '=', id).execute();
  }
}
