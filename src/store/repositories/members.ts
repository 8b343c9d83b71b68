import type { Selectable } from 'kysely';
import type { Db } from '../open-store.js';
import { type Page, type PageWindow, readPage } from '../page-query.js';
import type { MembersTable } from '../schema.js';

/** A stored membership: a role on a group or a project. */
export type MemberRecord = Selectable<MembersTable>;

/** Memberships of groups and projects. */
export class MemberRepository {
  constructor(private readonly db: Db) {}

  /** Adds the membership, or changes its access level when it exists. */
  async upsert(input: Omit<MemberRecord, 'id'>): Promise<MemberRecord> {
    const existing = await this.find(input.sourceType, input.sourceId, input.userId);
    if (existing) {
      return this.db
        .updateTable('members')
        .set({ accessLevel: input.accessLevel })
        .where('id', '=', existing.id)
        .returningAll()
        .executeTakeFirstOrThrow();
    }
    return this.db.insertInto('members').values(input).returningAll().executeTakeFirstOrThrow();
  }

  async find(
    sourceType: 'group' | 'project',
    sourceId: number,
    userId: number,
  ): Promise<MemberRecord | undefined> {
    return this.db
      .selectFrom('members')
      .selectAll()
      .where('sourceType', '=', sourceType)
      .where('sourceId', '=', sourceId)
      .where('userId', '=', userId)
      .executeTakeFirst();
  }

  /** One page of the direct members of a group or project, oldest first, read in SQL. */
  async page(
    sourceType: 'group' | 'project',
    sourceId: number,
    window: PageWindow,
  ): Promise<Page<MemberRecord>> {
    return readPage(
      this.db
        .selectFrom('members')
        .selectAll()
        .where('sourceType', '=', sourceType)
        .where('sourceId', '=', sourceId)
        .orderBy('id'),
      window,
    );
  }

  async list(sourceType: 'group' | 'project', sourceId: number): Promise<MemberRecord[]> {
    return this.db
      .selectFrom('members')
      .selectAll()
      .where('sourceType', '=', sourceType)
      .where('sourceId', '=', sourceId)
      .orderBy('id')
      .execute();
  }

  /** Removes a membership; answers whether there was one. */
  async remove(sourceType: 'group' | 'project', sourceId: number, userId: number): Promise<boolean> {
    const result = await this.db
      .deleteFrom('members')
      .where('sourceType', '=', sourceType)
      .where('sourceId', '=', sourceId)
      .where('userId', '=', userId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Every membership of `userId` on any of the given groups. */
  /**
   * The user's memberships on project `projectId` and on the groups `groupIds` (the project's group
   * and its ancestors), in one statement.
   */
  async forUserOnProject(userId: number, projectId: number, groupIds: number[]): Promise<MemberRecord[]> {
    return this.db
      .selectFrom('members')
      .selectAll()
      .where('userId', '=', userId)
      .where((eb) =>
        eb.or([
          eb.and([eb('sourceType', '=', 'project'), eb('sourceId', '=', projectId)]),
          ...(groupIds.length === 0
            ? []
            : [eb.and([eb('sourceType', '=', 'group'), eb('sourceId', 'in', groupIds)])]),
        ]),
      )
      .execute();
  }

  async forUserInGroups(userId: number, groupIds: number[]): Promise<MemberRecord[]> {
    if (groupIds.length === 0) return [];
    return this.db
      .selectFrom('members')
      .selectAll()
      .where('sourceType', '=', 'group')
      .where('sourceId', 'in', groupIds)
      .where('userId', '=', userId)
      .execute();
  }
}
