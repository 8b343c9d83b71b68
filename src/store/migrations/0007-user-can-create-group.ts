import type { Kysely } from 'kysely';

/**
 * A user's `can_create_group` (GitLab's): whether they may create top-level groups. New users take
 * the instance setting `usersCanCreateGroup`; existing users keep the right they had.
 */
export const userCanCreateGroupMigration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('users')
      .addColumn('can_create_group', 'integer', (c) => c.notNull().defaultTo(1))
      .execute();
  },
};
