import { type Selectable, sql } from 'kysely';
import { nextProjectIid } from '../next-project-iid.js';
import type { Db } from '../open-store.js';
import { type Page, type PageWindow, readPage } from '../page-query.js';
import type { PipelinesTable } from '../schema.js';

/** GitLab's filters and orders of a project's pipeline list. */
export interface PipelineListFilter {
  projectId: number;
  statuses?: string[];
  ref?: string;
  refType?: 'branch' | 'tag';
  sha?: string;
  source?: string;
  /** The user who started the pipeline (`username`), or -1 for a name no user has. */
  userId?: number;
  updatedAfter?: number;
  updatedBefore?: number;
  orderBy: 'id' | 'status' | 'ref' | 'updatedAt' | 'userId';
  sort: 'asc' | 'desc';
}

/** A stored pipeline. */
export interface PipelineRecord
  extends Omit<Selectable<PipelinesTable>, 'variables' | 'warnings' | 'refProtected' | 'apiVariables'> {
  refProtected: boolean;
  variables: Record<string, string>;
  apiVariables: Record<string, string>;
  warnings: string[];
}

/** A `pipelines` row (as read, keys camelCased) as the record the coordinator uses. */
export function toPipeline(row: Selectable<PipelinesTable>): PipelineRecord {
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

  /**
   * Creates a pipeline with the next per-project `iid` (`iid`: the one the caller allocated with
   * {@link nextProjectIid} earlier in this transaction). Call inside a transaction.
   */
  async create(
    input: Omit<PipelineRecord, 'id' | 'iid' | 'beforeSha' | 'sourceJobId'> & {
      iid?: number;
      beforeSha?: string;
      sourceJobId?: number | null;
    },
  ): Promise<PipelineRecord> {
    const iid = input.iid ?? (await nextProjectIid(this.db, 'pipelines', input.projectId));
    const row = await this.db
      .insertInto('pipelines')
      .values({
        ...input,
        refProtected: input.refProtected ? 1 : 0,
        iid,
        variables: JSON.stringify(input.variables),
        apiVariables: JSON.stringify(input.apiVariables),
        warnings: JSON.stringify(input.warnings),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toPipeline(row);
  }

  /** The pipeline a bridge job created (its downstream pipeline), if any. */
  async findBySourceJob(jobId: number): Promise<PipelineRecord | undefined> {
    const row = await this.db
      .selectFrom('pipelines')
      .selectAll()
      .where('sourceJobId', '=', jobId)
      .executeTakeFirst();
    return row && toPipeline(row);
  }

  /** The pipelines that bridge jobs `jobIds` created (one query for a whole pipeline page). */
  async listBySourceJobs(jobIds: readonly number[]): Promise<PipelineRecord[]> {
    if (jobIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('pipelines')
      .selectAll()
      .where('sourceJobId', 'in', jobIds)
      .execute();
    return rows.map(toPipeline);
  }

  /**
   * The pipeline `id`; with `forUpdate` (PostgreSQL, inside a transaction) its row stays locked
   * until the transaction ends.
   */
  async findById(id: number, options: { forUpdate?: boolean } = {}): Promise<PipelineRecord | undefined> {
    let query = this.db.selectFrom('pipelines').selectAll().where('id', '=', id);
    if (options.forUpdate) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    return row && toPipeline(row);
  }

  /** One page of a project's pipelines that pass GitLab's filters of `GET /projects/:id/pipelines`. */
  async page(filter: PipelineListFilter, window: PageWindow): Promise<Page<PipelineRecord>> {
    let query = this.db.selectFrom('pipelines').selectAll().where('projectId', '=', filter.projectId);
    if (filter.statuses !== undefined)
      // No status at all matches nothing (`IN ()` is not SQL).
      query =
        filter.statuses.length === 0
          ? query.where(sql<boolean>`1 = 0`)
          : query.where('status', 'in', filter.statuses);
    if (filter.ref !== undefined) query = query.where('ref', '=', filter.ref);
    if (filter.refType !== undefined) query = query.where('refType', '=', filter.refType);
    if (filter.sha !== undefined) query = query.where('sha', '=', filter.sha);
    if (filter.source !== undefined) query = query.where('source', '=', filter.source);
    if (filter.userId !== undefined) query = query.where('userId', '=', filter.userId);
    if (filter.updatedAfter !== undefined) query = query.where('updatedAt', '>', filter.updatedAfter);
    if (filter.updatedBefore !== undefined) query = query.where('updatedAt', '<', filter.updatedBefore);
    query = query.orderBy(filter.orderBy, filter.sort);
    if (filter.orderBy !== 'id') query = query.orderBy('id', filter.sort);
    const page = await readPage(query, window);
    return { items: page.items.map(toPipeline), total: page.total };
  }

  /** The project's newest pipeline on `ref` (any ref when absent), or undefined. */
  async latest(projectId: number, ref?: string): Promise<PipelineRecord | undefined> {
    let query = this.db.selectFrom('pipelines').selectAll().where('projectId', '=', projectId);
    if (ref !== undefined) query = query.where('ref', '=', ref);
    const row = await query.orderBy('id', 'desc').limit(1).executeTakeFirst();
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
