import type { Selectable } from 'kysely';
import type { Db } from '../open-store.js';
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
