import { type Selectable, sql } from 'kysely';
import type { Db } from '../open-store.js';
import { containsPattern, type Page, type PageWindow, readPage } from '../page-query.js';
import type { GroupsTable } from '../schema.js';

/** A stored group (a node of the group tree). */
export type GroupRecord = Selectable<GroupsTable>;

/** Groups, a tree through `parentId`. */
export class GroupRepository {
  constructor(private readonly db: Db) {}

  async create(input: Omit<GroupRecord, 'id'>): Promise<GroupRecord> {
    return this.db.insertInto('groups').values(input).returningAll().executeTakeFirstOrThrow();
  }

  async findById(id: number): Promise<GroupRecord | undefined> {
    return this.db.selectFrom('groups').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async findByFullPath(fullPath: string): Promise<GroupRecord | undefined> {
    return this.db.selectFrom('groups').selectAll().where('fullPath', '=', fullPath).executeTakeFirst();
  }

  /**
   * One page of groups (GitLab's `GET /groups`): `visibleTo` keeps public and internal groups and
   * those where the user has a role on the group or an ancestor; `memberOf` only the latter, at
   * `minimumLevel` or more.
   */
  async page(
    filter: {
      visibleTo?: number;
      memberOf?: { userId: number; minimumLevel: number };
      search?: string;
      orderBy: 'id' | 'name' | 'path';
      sort: 'asc' | 'desc';
    },
    window: PageWindow,
  ): Promise<Page<GroupRecord>> {
    let query = this.db.selectFrom('groups').selectAll();
    const hasRole = (userId: number, minimumLevel: number) =>
      sql<boolean>`exists (select 1 from members m join groups a on a.id = m.source_id
        where m.source_type = 'group' and m.user_id = ${userId} and m.access_level >= ${minimumLevel}
        and (a.id = groups.id or substr(groups.full_path, 1, length(a.full_path) + 1) = a.full_path || '/'))`;
    const { visibleTo, memberOf } = filter;
    if (visibleTo !== undefined)
      query = query.where((eb) => eb.or([eb('visibility', '!=', 'private'), hasRole(visibleTo, 1)]));
    if (memberOf !== undefined) query = query.where(hasRole(memberOf.userId, memberOf.minimumLevel));
    if (filter.search !== undefined) {
      const pattern = containsPattern(filter.search);
      query = query.where((eb) =>
        eb.or([
          eb(sql`lower(name)`, 'like', sql`${pattern} escape '\\'`),
          eb(sql`lower(path)`, 'like', sql`${pattern} escape '\\'`),
        ]),
      );
    }
    query = query.orderBy(filter.orderBy, filter.sort);
    if (filter.orderBy !== 'id') query = query.orderBy('id', filter.sort);
    return readPage(query, window);
  }

  /** Changes a group's name or visibility. */
  async update(
    id: number,
    changes: Partial<Pick<GroupRecord, 'name' | 'visibility'>>,
  ): Promise<GroupRecord | undefined> {
    if (Object.keys(changes).length === 0) return this.findById(id);
    return this.db.updateTable('groups').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
  }

  /** The distinct visibilities of the subgroups and projects anywhere below `group`. */
  async widestVisibilityBelow(group: GroupRecord): Promise<string[]> {
    const prefix = `${group.fullPath}/`;
    const below = sql<boolean>`substr(full_path, 1, ${prefix.length}) = ${prefix}`;
    const groups = await this.db.selectFrom('groups').select('visibility').distinct().where(below).execute();
    const projects = await this.db
      .selectFrom('projects')
      .select('visibility')
      .distinct()
      .where(sql<boolean>`substr(path_with_namespace, 1, ${prefix.length}) = ${prefix}`)
      .execute();
    return [...groups, ...projects].map((row) => row.visibility);
  }

  async list(): Promise<GroupRecord[]> {
    return this.db.selectFrom('groups').selectAll().orderBy('id').execute();
  }

  /** The group `id` and its ancestors, nearest first. */
  async lineage(id: number): Promise<GroupRecord[]> {
    const out: GroupRecord[] = [];
    let next: number | null = id;
    // The tree is shallow (GitLab allows 20 levels); a bound guards against a corrupted cycle.
    while (next !== null && out.length < 64) {
      const group = await this.findById(next);
      if (!group) break;
      out.push(group);
      next = group.parentId;
    }
    return out;
  }
}
