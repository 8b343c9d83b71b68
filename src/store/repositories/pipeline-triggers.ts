import type { Selectable } from 'kysely';
import type { Db } from '../open-store.js';
import { type Page, type PageWindow, readPage } from '../page-query.js';
import type { PipelineTriggersTable } from '../schema.js';

/** A stored trigger token (its hash, never the token). */
export type PipelineTriggerRecord = Selectable<PipelineTriggersTable>;

/** Pipeline trigger tokens. */
export class PipelineTriggerRepository {
  constructor(private readonly db: Db) {}

  async create(input: Omit<PipelineTriggerRecord, 'id'>): Promise<PipelineTriggerRecord> {
    return this.db.insertInto('pipelineTriggers').values(input).returningAll().executeTakeFirstOrThrow();
  }

  async findById(id: number): Promise<PipelineTriggerRecord | undefined> {
    return this.db.selectFrom('pipelineTriggers').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async findByTokenHash(hash: string): Promise<PipelineTriggerRecord | undefined> {
    return this.db
      .selectFrom('pipelineTriggers')
      .selectAll()
      .where('tokenHash', '=', hash)
      .executeTakeFirst();
  }

  /** One page of a project's trigger tokens, oldest first. */
  async pageByProject(projectId: number, window: PageWindow): Promise<Page<PipelineTriggerRecord>> {
    return readPage(
      this.db.selectFrom('pipelineTriggers').selectAll().where('projectId', '=', projectId).orderBy('id'),
      window,
    );
  }

  async listByProject(projectId: number): Promise<PipelineTriggerRecord[]> {
    return this.db
      .selectFrom('pipelineTriggers')
      .selectAll()
      .where('projectId', '=', projectId)
      .orderBy('id')
      .execute();
  }

  async update(
    id: number,
    changes: Partial<Pick<PipelineTriggerRecord, 'description' | 'updatedAt' | 'lastUsedAt'>>,
  ): Promise<void> {
    await this.db.updateTable('pipelineTriggers').set(changes).where('id', '=', id).execute();
  }

  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('pipelineTriggers').where('id', '=', id).execute();
  }

  /** The job whose job token hashes to `hash` (`CI_JOB_TOKEN` used as a trigger token). */
  async findJobByTokenHash(hash: string): Promise<
    | {
        id: number;
        projectId: number;
        pipelineId: number;
        status: string;
        userId: number | null;
        tokenHash: string | null;
      }
    | undefined
  > {
    return this.db
      .selectFrom('jobs')
      .select(['id', 'projectId', 'pipelineId', 'status', 'userId', 'tokenHash'])
      .where('tokenHash', '=', hash)
      .executeTakeFirst();
  }
}
