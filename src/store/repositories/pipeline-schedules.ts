import type { Selectable } from 'kysely';
import type { Db } from '../open-store.js';
import { type Page, type PageWindow, readPage } from '../page-query.js';
import type { PipelineSchedulesTable, PipelineScheduleVariablesTable } from '../schema.js';

/** A stored pipeline schedule. */
export interface PipelineScheduleRecord extends Omit<Selectable<PipelineSchedulesTable>, 'active'> {
  active: boolean;
}

/** A variable of a pipeline schedule. */
export type PipelineScheduleVariableRecord = Selectable<PipelineScheduleVariablesTable>;

/** Fields `PUT /pipeline_schedules/:id` and `take_ownership` may change. */
export type PipelineScheduleChanges = Partial<
  Pick<
    PipelineScheduleRecord,
    | 'description'
    | 'ref'
    | 'cron'
    | 'cronTimezone'
    | 'active'
    | 'nextRunAt'
    | 'ownerId'
    | 'updatedAt'
    | 'inputs'
  >
>;

function toSchedule(row: Selectable<PipelineSchedulesTable>): PipelineScheduleRecord {
  return { ...row, active: row.active === 1, nextRunAt: Number(row.nextRunAt) };
}

/** Pipeline schedules, their variables and the pipelines they started. */
export class PipelineScheduleRepository {
  constructor(private readonly db: Db) {}

  async create(input: Omit<PipelineScheduleRecord, 'id'>): Promise<PipelineScheduleRecord> {
    const row = await this.db
      .insertInto('pipelineSchedules')
      .values({ ...input, active: input.active ? 1 : 0 })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toSchedule(row);
  }

  async findById(id: number): Promise<PipelineScheduleRecord | undefined> {
    const row = await this.db
      .selectFrom('pipelineSchedules')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toSchedule(row);
  }

  /** One page of a project's schedules, oldest first; only active or inactive ones when `active` is given. */
  async pageByProject(
    projectId: number,
    active: boolean | undefined,
    window: PageWindow,
  ): Promise<Page<PipelineScheduleRecord>> {
    let query = this.db.selectFrom('pipelineSchedules').selectAll().where('projectId', '=', projectId);
    if (active !== undefined) query = query.where('active', '=', active ? 1 : 0);
    const page = await readPage(query.orderBy('id'), window);
    return { items: page.items.map(toSchedule), total: page.total };
  }

  async listByProject(projectId: number): Promise<PipelineScheduleRecord[]> {
    const rows = await this.db
      .selectFrom('pipelineSchedules')
      .selectAll()
      .where('projectId', '=', projectId)
      .orderBy('id')
      .execute();
    return rows.map(toSchedule);
  }

  /** Active schedules whose `next_run_at` has come, oldest first. */
  async listDue(now: number, limit: number): Promise<PipelineScheduleRecord[]> {
    const rows = await this.db
      .selectFrom('pipelineSchedules')
      .selectAll()
      .where('active', '=', 1)
      .where('nextRunAt', '<=', now)
      .orderBy('nextRunAt')
      .limit(limit)
      .execute();
    return rows.map(toSchedule);
  }

  /**
   * Moves `next_run_at` from `expected` to `next` when nobody has moved it yet: the claim that lets
   * exactly one coordinator node fire a schedule. Answers whether this call won.
   */
  async claimRun(id: number, expected: number, next: number, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('pipelineSchedules')
      .set({ nextRunAt: next, updatedAt: now })
      .where('id', '=', id)
      .where('nextRunAt', '=', expected)
      .where('active', '=', 1)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async update(id: number, changes: PipelineScheduleChanges): Promise<PipelineScheduleRecord> {
    const { active, ...rest } = changes;
    const row = await this.db
      .updateTable('pipelineSchedules')
      .set({ ...rest, ...(active === undefined ? {} : { active: active ? 1 : 0 }) })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toSchedule(row);
  }

  /** Deletes the schedule, its variables and its run records (the pipelines stay). */
  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('pipelineScheduleVariables').where('scheduleId', '=', id).execute();
    await this.db.deleteFrom('pipelineScheduleRuns').where('scheduleId', '=', id).execute();
    await this.db.deleteFrom('pipelineSchedules').where('id', '=', id).execute();
  }

  async listVariables(scheduleId: number): Promise<PipelineScheduleVariableRecord[]> {
    return this.db
      .selectFrom('pipelineScheduleVariables')
      .selectAll()
      .where('scheduleId', '=', scheduleId)
      .orderBy('id')
      .execute();
  }

  async findVariable(scheduleId: number, key: string): Promise<PipelineScheduleVariableRecord | undefined> {
    return this.db
      .selectFrom('pipelineScheduleVariables')
      .selectAll()
      .where('scheduleId', '=', scheduleId)
      .where('key', '=', key)
      .executeTakeFirst();
  }

  async createVariable(
    input: Omit<PipelineScheduleVariableRecord, 'id'>,
  ): Promise<PipelineScheduleVariableRecord> {
    return this.db
      .insertInto('pipelineScheduleVariables')
      .values(input)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async updateVariable(
    id: number,
    changes: Partial<Pick<PipelineScheduleVariableRecord, 'value' | 'variableType'>>,
  ): Promise<PipelineScheduleVariableRecord> {
    return this.db
      .updateTable('pipelineScheduleVariables')
      .set(changes)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  async deleteVariable(id: number): Promise<void> {
    await this.db.deleteFrom('pipelineScheduleVariables').where('id', '=', id).execute();
  }

  async recordRun(scheduleId: number, pipelineId: number): Promise<void> {
    await this.db.insertInto('pipelineScheduleRuns').values({ scheduleId, pipelineId }).execute();
  }

  /** Ids of the pipelines the schedule started, newest first. */
  /** One page of the pipelines a schedule started (that still exist), newest first. */
  async pageRunPipelineIds(scheduleId: number, window: PageWindow): Promise<Page<number>> {
    const page = await readPage(
      this.db
        .selectFrom('pipelineScheduleRuns')
        .innerJoin('pipelines', 'pipelines.id', 'pipelineScheduleRuns.pipelineId')
        .select('pipelineScheduleRuns.pipelineId')
        .where('pipelineScheduleRuns.scheduleId', '=', scheduleId)
        .orderBy('pipelineScheduleRuns.pipelineId', 'desc'),
      window,
    );
    return { items: page.items.map((row) => row.pipelineId), total: page.total };
  }

  async listRunPipelineIds(scheduleId: number, limit = 100): Promise<number[]> {
    const rows = await this.db
      .selectFrom('pipelineScheduleRuns')
      .select('pipelineId')
      .where('scheduleId', '=', scheduleId)
      .orderBy('pipelineId', 'desc')
      .limit(limit)
      .execute();
    return rows.map((row) => row.pipelineId);
  }
}
