import type { Selectable } from 'kysely';
import type { Db } from '../open-store.js';
import { type Page, type PageWindow, readPage } from '../page-query.js';
import type { ProjectVariablesTable } from '../schema.js';

/** A project CI/CD variable. */
export interface VariableRecord
  extends Omit<Selectable<ProjectVariablesTable>, 'protected' | 'masked' | 'raw'> {
  protected: boolean;
  masked: boolean;
  raw: boolean;
}

/** A variable row with its 0/1 flag columns read as booleans (project, group and instance variables). */
export function withVariableFlags<Row extends { protected: number; masked: number; raw: number }>(
  row: Row,
): Omit<Row, 'protected' | 'masked' | 'raw'> & { protected: boolean; masked: boolean; raw: boolean } {
  return { ...row, protected: row.protected === 1, masked: row.masked === 1, raw: row.raw === 1 };
}

const toVariable = (row: Selectable<ProjectVariablesTable>): VariableRecord => withVariableFlags(row);

/** The flag columns of a variable's changes, as 0/1 (only those given). */
export function variableFlagColumns(input: Partial<Record<'protected' | 'masked' | 'raw', boolean>>) {
  return {
    ...(input.protected !== undefined ? { protected: input.protected ? 1 : 0 } : {}),
    ...(input.masked !== undefined ? { masked: input.masked ? 1 : 0 } : {}),
    ...(input.raw !== undefined ? { raw: input.raw ? 1 : 0 } : {}),
  };
}

/** Project CI/CD variables. */
export class VariableRepository {
  constructor(private readonly db: Db) {}

  async create(input: Omit<VariableRecord, 'id'>): Promise<VariableRecord> {
    const row = await this.db
      .insertInto('projectVariables')
      .values({ ...input, protected: 0, masked: 0, raw: 0, ...variableFlagColumns(input) })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toVariable(row);
  }

  /** One page of a project's variables, oldest first. */
  async page(projectId: number, window: PageWindow): Promise<Page<VariableRecord>> {
    const page = await readPage(
      this.db.selectFrom('projectVariables').selectAll().where('projectId', '=', projectId).orderBy('id'),
      window,
    );
    return { items: page.items.map(toVariable), total: page.total };
  }

  async list(projectId: number): Promise<VariableRecord[]> {
    const rows = await this.db
      .selectFrom('projectVariables')
      .selectAll()
      .where('projectId', '=', projectId)
      .orderBy('id')
      .execute();
    return rows.map(toVariable);
  }

  async find(projectId: number, key: string): Promise<VariableRecord | undefined> {
    const row = await this.db
      .selectFrom('projectVariables')
      .selectAll()
      .where('projectId', '=', projectId)
      .where('key', '=', key)
      .executeTakeFirst();
    return row && toVariable(row);
  }

  async update(
    id: number,
    changes: Partial<Pick<VariableRecord, 'value' | 'protected' | 'masked' | 'raw' | 'variableType'>>,
  ): Promise<VariableRecord> {
    const { protected: _p, masked: _m, raw: _r, ...rest } = changes;
    const row = await this.db
      .updateTable('projectVariables')
      .set({ ...rest, ...variableFlagColumns(changes) })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toVariable(row);
  }

  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('projectVariables').where('id', '=', id).execute();
  }
}
