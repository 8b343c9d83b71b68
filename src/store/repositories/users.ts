import { type Selectable, sql } from 'kysely';
import type { Db } from '../open-store.js';
import { containsPattern, type Page, type PageWindow, readPage } from '../page-query.js';
import type { PersonalAccessTokensTable, UsersTable } from '../schema.js';

/** A stored user. */
export interface UserRecord {
  id: number;
  username: string;
  email: string;
  name: string;
  isAdmin: boolean;
  state: string;
  createdAt: number;
  /** Whether the user may create top-level groups (GitLab's `can_create_group`). */
  canCreateGroup: boolean;
}

/** A stored personal access token (its hash only). */
export interface AccessTokenRecord {
  id: number;
  userId: number;
  name: string;
  scopes: string[];
  revoked: boolean;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
}

/** A `users` row (as read, keys camelCased) as the record the coordinator uses. */
export function toUser(row: Selectable<UsersTable>): UserRecord {
  return { ...row, isAdmin: row.isAdmin === 1, canCreateGroup: row.canCreateGroup === 1 };
}

function toToken(row: Selectable<PersonalAccessTokensTable>): AccessTokenRecord {
  const { tokenHash: _hash, ...rest } = row;
  return { ...rest, scopes: JSON.parse(row.scopes) as string[], revoked: row.revoked === 1 };
}

/** Users and their personal access tokens. */
export class UserRepository {
  constructor(private readonly db: Db) {}

  /** Creates a user and returns it. */
  async create(
    input: Omit<UserRecord, 'id' | 'state' | 'canCreateGroup'> & { canCreateGroup?: boolean },
  ): Promise<UserRecord> {
    const row = await this.db
      .insertInto('users')
      .values({
        ...input,
        isAdmin: input.isAdmin ? 1 : 0,
        canCreateGroup: input.canCreateGroup === false ? 0 : 1,
        state: 'active',
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toUser(row);
  }

  async findById(id: number): Promise<UserRecord | undefined> {
    const row = await this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toUser(row);
  }

  async findByUsername(username: string): Promise<UserRecord | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('username', '=', username)
      .executeTakeFirst();
    return row && toUser(row);
  }

  /** One page of users (GitLab's `GET /users`): `search` in username, name or email, any case. */
  async page(
    filter: {
      search?: string;
      username?: string;
      active?: boolean;
      blocked?: boolean;
      sort: 'asc' | 'desc';
      orderBy: 'id' | 'username' | 'name' | 'createdAt';
    },
    window: PageWindow,
  ): Promise<Page<UserRecord>> {
    let query = this.db.selectFrom('users').selectAll();
    if (filter.search !== undefined) {
      const pattern = containsPattern(filter.search);
      query = query.where((eb) =>
        eb.or(
          (['username', 'name', 'email'] as const).map((column) =>
            eb(sql`lower(${sql.ref(column)})`, 'like', sql`${pattern} escape '\\'`),
          ),
        ),
      );
    }
    if (filter.username !== undefined)
      query = query.where(sql`lower(username)`, '=', filter.username.toLowerCase());
    if (filter.active) query = query.where('state', '=', 'active');
    if (filter.blocked) query = query.where('state', '=', 'blocked');
    query = query.orderBy(filter.orderBy, filter.sort);
    if (filter.orderBy !== 'id') query = query.orderBy('id', filter.sort);
    const page = await readPage(query, window);
    return { items: page.items.map(toUser), total: page.total };
  }

  async list(): Promise<UserRecord[]> {
    return (await this.db.selectFrom('users').selectAll().orderBy('id').execute()).map(toUser);
  }

  /** Stores a new personal access token by its hash. */
  async createAccessToken(
    input: Omit<AccessTokenRecord, 'id' | 'revoked' | 'lastUsedAt'> & { tokenHash: string },
  ): Promise<AccessTokenRecord> {
    const row = await this.db
      .insertInto('personalAccessTokens')
      .values({ ...input, scopes: JSON.stringify(input.scopes), revoked: 0 })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toToken(row);
  }

  /**
   * The token whose hash is `tokenHash` with its user, if any. The lookup is by an index on the
   * hash (a keyed SHA-256 of a 160-bit random value), so timing reveals nothing about the token.
   */
  async findAccessTokenByHash(
    tokenHash: string,
  ): Promise<{ token: AccessTokenRecord; storedHash: string; user: UserRecord } | undefined> {
    const row = await this.db
      .selectFrom('personalAccessTokens')
      .selectAll()
      .where('tokenHash', '=', tokenHash)
      .executeTakeFirst();
    if (!row) return undefined;
    const user = await this.findById(row.userId);
    return user && { token: toToken(row), storedHash: row.tokenHash, user };
  }

  async findAccessTokenById(id: number): Promise<AccessTokenRecord | undefined> {
    const row = await this.db
      .selectFrom('personalAccessTokens')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && toToken(row);
  }

  /** Marks a token revoked (for good: a revoked token never authenticates again). */
  async revokeAccessToken(id: number): Promise<void> {
    await this.db.updateTable('personalAccessTokens').set({ revoked: 1 }).where('id', '=', id).execute();
  }

  /** Changes a user's attributes (`PUT /users/:id`, block, unblock). */
  async update(
    id: number,
    changes: Partial<
      Pick<UserRecord, 'username' | 'email' | 'name' | 'isAdmin' | 'canCreateGroup' | 'state'>
    >,
  ): Promise<UserRecord | undefined> {
    // No column to set (a `PUT /users/:id` of the password alone): an empty SET is invalid SQL.
    if (Object.values(changes).every((value) => value === undefined)) return this.findById(id);
    const { isAdmin, canCreateGroup, ...rest } = changes;
    const row = await this.db
      .updateTable('users')
      .set({
        ...rest,
        ...(isAdmin === undefined ? {} : { isAdmin: isAdmin ? 1 : 0 }),
        ...(canCreateGroup === undefined ? {} : { canCreateGroup: canCreateGroup ? 1 : 0 }),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && toUser(row);
  }

  /** One page of personal access tokens, of one user or of everyone, oldest first. */
  async pageAccessTokens(
    filter: { userId?: number; state?: 'active' | 'inactive'; revoked?: boolean; now: number },
    window: PageWindow,
  ): Promise<Page<AccessTokenRecord>> {
    let query = this.db.selectFrom('personalAccessTokens').selectAll();
    if (filter.userId !== undefined) query = query.where('userId', '=', filter.userId);
    if (filter.revoked !== undefined) query = query.where('revoked', '=', filter.revoked ? 1 : 0);
    if (filter.state === 'active')
      query = query
        .where('revoked', '=', 0)
        .where((eb) => eb.or([eb('expiresAt', 'is', null), eb('expiresAt', '>', filter.now)]));
    if (filter.state === 'inactive')
      query = query.where((eb) => eb.or([eb('revoked', '=', 1), eb('expiresAt', '<=', filter.now)]));
    const page = await readPage(query.orderBy('id'), window);
    return { items: page.items.map(toToken), total: page.total };
  }

  /**
   * One page of the tokens of a project's or group's bot users (GitLab's project and group access
   * tokens): users named `<prefix>…` that are members of that source, oldest first.
   */
  async pageBotAccessTokens(
    source: { sourceType: 'group' | 'project'; sourceId: number; usernamePrefix: string },
    window: PageWindow,
  ): Promise<Page<AccessTokenRecord & { accessLevel: number }>> {
    const query = this.db
      .selectFrom('personalAccessTokens')
      .innerJoin('users', 'users.id', 'personalAccessTokens.userId')
      .innerJoin('members', 'members.userId', 'users.id')
      .selectAll('personalAccessTokens')
      .select('members.accessLevel')
      .where('members.sourceType', '=', source.sourceType)
      .where('members.sourceId', '=', source.sourceId)
      .where(
        sql<boolean>`substr(users.username, 1, ${source.usernamePrefix.length}) = ${source.usernamePrefix}`,
      )
      .orderBy('personalAccessTokens.id');
    const page = await readPage(query, window);
    return {
      items: page.items.map(({ accessLevel, ...row }) => ({ ...toToken(row), accessLevel })),
      total: page.total,
    };
  }

  async touchAccessToken(id: number, now: number): Promise<void> {
    await this.db.updateTable('personalAccessTokens').set({ lastUsedAt: now }).where('id', '=', id).execute();
  }
}
