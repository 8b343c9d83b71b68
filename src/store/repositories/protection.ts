import type { Selectable } from 'kysely';
import type { Db } from '../open-store.js';
import type { EnvironmentsTable, ProtectedEnvironmentsTable, ProtectedRefsTable } from '../schema.js';

/** A protected branch or tag pattern. */
export type ProtectedRefRecord = Selectable<ProtectedRefsTable>;
/** An environment. */
export type EnvironmentRecord = Selectable<EnvironmentsTable>;
/** A protected environment. */
export type ProtectedEnvironmentRecord = Selectable<ProtectedEnvironmentsTable>;

/** Protected refs, environments and protected environments of projects. */
export class ProtectionRepository {
  constructor(private readonly db: Db) {}

  async createProtectedRef(input: Omit<ProtectedRefRecord, 'id'>): Promise<ProtectedRefRecord> {
    return this.db.insertInto('protectedRefs').values(input).returningAll().executeTakeFirstOrThrow();
  }

  async listProtectedRefs(projectId: number, refType?: 'branch' | 'tag'): Promise<ProtectedRefRecord[]> {
    let query = this.db.selectFrom('protectedRefs').selectAll().where('projectId', '=', projectId);
    if (refType) query = query.where('refType', '=', refType);
    return query.orderBy('id').execute();
  }

  /** Removes the pattern `name`; answers whether it existed. */
  async deleteProtectedRef(projectId: number, refType: 'branch' | 'tag', name: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('protectedRefs')
      .where('projectId', '=', projectId)
      .where('refType', '=', refType)
      .where('name', '=', name)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async createEnvironment(input: Omit<EnvironmentRecord, 'id'>): Promise<EnvironmentRecord> {
    return this.db.insertInto('environments').values(input).returningAll().executeTakeFirstOrThrow();
  }

  async findEnvironment(projectId: number, name: string): Promise<EnvironmentRecord | undefined> {
    return this.db
      .selectFrom('environments')
      .selectAll()
      .where('projectId', '=', projectId)
      .where('name', '=', name)
      .executeTakeFirst();
  }

  async findEnvironmentById(projectId: number, id: number): Promise<EnvironmentRecord | undefined> {
    return this.db
      .selectFrom('environments')
      .selectAll()
      .where('projectId', '=', projectId)
      .where('id', '=', id)
      .executeTakeFirst();
  }

  async listEnvironments(projectId: number): Promise<EnvironmentRecord[]> {
    return this.db
      .selectFrom('environments')
      .selectAll()
      .where('projectId', '=', projectId)
      .orderBy('id')
      .execute();
  }

  async createProtectedEnvironment(
    input: Omit<ProtectedEnvironmentRecord, 'id'>,
  ): Promise<ProtectedEnvironmentRecord> {
    return this.db.insertInto('protectedEnvironments').values(input).returningAll().executeTakeFirstOrThrow();
  }

  async findProtectedEnvironment(
    projectId: number,
    name: string,
  ): Promise<ProtectedEnvironmentRecord | undefined> {
    return this.db
      .selectFrom('protectedEnvironments')
      .selectAll()
      .where('projectId', '=', projectId)
      .where('name', '=', name)
      .executeTakeFirst();
  }

  async listProtectedEnvironments(projectId: number): Promise<ProtectedEnvironmentRecord[]> {
    return this.db
      .selectFrom('protectedEnvironments')
      .selectAll()
      .where('projectId', '=', projectId)
      .orderBy('id')
      .execute();
  }
}
