import { type Selectable, SqliteAdapter, sql } from 'kysely';
import type { Db } from '../open-store.js';
import type { PipelinesTable } from '../schema.js';

/** A stored pipeline. */
export interface PipelineRecord
  extends Omit<Selectable<PipelinesTable>, 'variables' | 'warnings' | 'refProtected' | 'apiVariables'> {
  refProtected: boolean;
  variables: Record<string, string>;
  apiVariables: Record<string, string>;
  warnings: string[];
}

function toPipeline(row: Selectable<PipelinesTable>): PipelineRecord {
  return {
    ...row,
    refProtected: row.refProtected === 1,
    variables: JSON.parse(row.variables) as Record<string, string>,
    apiVariables: JSON.parse(row.apiVariables) as Record<string, string>,
    warnings: JSON.parse(row.warnings) as string[],
  };
}

/** Pipelines. */
export class PipelineRepository {
  constructor(private readonly db: Db) {}

  /** Creates a pipeline with the next per-project `iid`. Call inside a transaction. */
  async create(
    input: Omit<PipelineRecord, 'id' | 'iid' | 'beforeSha'> & { beforeSha?: string },
  ): Promise<PipelineRecord> {
    // Two pipelines created at once for one project must not both take the same iid (PostgreSQL;
    // SQLite write transactions are serialised already).
    if (!(this.db.getExecutor().adapter instanceof SqliteAdapter)) {
      await this.db
        .selectFrom('projects')
        .select('id')
        .where('id', '=', input.projectId)
        .forUpdate()
        .execute();
    }
    const last = await this.db
      .selectFrom('pipelines')
      .select(sql<number>`coalesce(max(iid), 0)`.as('iid'))
      .where('projectId', '=', input.projectId)
      .executeTakeFirst();
    const row = await this.db
      .insertInto('pipelines')
      .values({
        ...input,
        refProtected: input.refProtected ? 1 : 0,
        iid: Number(last?.iid ?? 0) + 1,
        variables: JSON.stringify(input.variables),
        apiVariables: JSON.stringify(input.apiVariables),
        warnings: JSON.stringify(input.warnings),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toPipeline(row);
  }

  async findById(id: number): Promise<PipelineRecord | undefined> {
    const row = await this.db.selectFrom('pipelines').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toPipeline(row);
  }

  /** The project's pipelines, newest first. */
  async listByProject(projectId: number, limit = 100): Promise<PipelineRecord[]> {
    const rows = await this.db
      .selectFrom('pipelines')
      .selectAll()
      .where('projectId', '=', projectId)
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map(toPipeline);
  }

  async update(
    id: number,
    changes: Partial<Pick<PipelineRecord, 'status' | 'startedAt' | 'finishedAt' | 'updatedAt'>>,
  ): Promise<void> {
    await this.db.updateTable('pipelines').set(changes).where('id', '=', id).execute();
  }
}
