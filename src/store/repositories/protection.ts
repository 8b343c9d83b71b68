import type { Selectable } from 'kysely';
import type { Db } from '../open-store.js';
import { type Page, type PageWindow, readPage } from '../page-query.js';
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

  /** One page of a project's protected branches or tags, oldest first. */
  async pageProtectedRefs(
    projectId: number,
    refType: 'branch' | 'tag',
    window: PageWindow,
  ): Promise<Page<ProtectedRefRecord>> {
    return readPage(
      this.db
        .selectFrom('protectedRefs')
        .selectAll()
        .where('projectId', '=', projectId)
        .where('refType', '=', refType)
        .orderBy('id'),
      window,
    );
  }

  /** One page of a project's environments, oldest first; only those named `name`, or in `states`, when given. */
  async pageEnvironments(
    projectId: number,
    window: PageWindow,
    filter: { name?: string; states?: readonly string[] } = {},
  ): Promise<Page<EnvironmentRecord>> {
    let query = this.db.selectFrom('environments').selectAll().where('projectId', '=', projectId);
    if (filter.name !== undefined) query = query.where('name', '=', filter.name);
    if (filter.states !== undefined) query = query.where('state', 'in', filter.states);
    return readPage(query.orderBy('id'), window);
  }

  /** One page of a project's protected environments, oldest first. */
  async pageProtectedEnvironments(
    projectId: number,
    window: PageWindow,
  ): Promise<Page<ProtectedEnvironmentRecord>> {
    return readPage(
      this.db
        .selectFrom('protectedEnvironments')
        .selectAll()
        .where('projectId', '=', projectId)
        .orderBy('id'),
      window,
    );
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

  /** Creates an environment; it was last updated when it was created. */
  async createEnvironment(
    input: Omit<EnvironmentRecord, 'id' | 'autoStopAt' | 'updatedAt'> & { autoStopAt?: number | null },
  ): Promise<EnvironmentRecord> {
    return this.db
      .insertInto('environments')
      .values({ ...input, updatedAt: input.createdAt })
      .returningAll()
      .executeTakeFirstOrThrow();
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

  /** Changes an environment's URL, tier, state or auto-stop time; answers it as it is now. */
  async updateEnvironment(
    id: number,
    changes: Partial<Pick<EnvironmentRecord, 'externalUrl' | 'tier' | 'state' | 'autoStopAt' | 'updatedAt'>>,
  ): Promise<EnvironmentRecord | undefined> {
    if (Object.keys(changes).length === 0)
      return this.db.selectFrom('environments').selectAll().where('id', '=', id).executeTakeFirst();
    return this.db
      .updateTable('environments')
      .set(changes)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  /** Deletes an environment with its deployments (GitLab deletes them alongside). */
  async deleteEnvironment(id: number): Promise<void> {
    await this.db.deleteFrom('deployments').where('environmentId', '=', id).execute();
    await this.db.deleteFrom('environments').where('id', '=', id).execute();
  }

  /** Removes the protection of environment `name`; answers whether there was one. */
  async deleteProtectedEnvironment(projectId: number, name: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('protectedEnvironments')
      .where('projectId', '=', projectId)
      .where('name', '=', name)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
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
