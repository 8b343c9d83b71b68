import { type Generated, type Kysely, sql } from 'kysely';

/** The columns this migration reads and writes, as stored (snake_case, no plugin). */
interface PathTables {
  groups: { id: number; path: string; full_path: string; parent_id: number | null };
  projects: { id: number; path: string; namespace_id: number; path_with_namespace: string };
  project_path_history: { id: Generated<number>; path: string; project_id: number; created_at: number };
}

/**
 * Makes group and project paths unique regardless of case, as GitLab's routes are (a unique index
 * on `LOWER(path)`): `acme/App` and `acme/app` were two projects, which a relying party that
 * compares paths without case, or a person reading them, cannot tell apart. Groups are unique on
 * `lower(full_path)` (so per parent, top-level groups included), projects on
 * `(namespace_id, lower(path))`.
 *
 * A store that already holds such twins keeps the oldest of each under its path; each younger one
 * becomes `<path>-<id>` (a group's subgroups and projects follow it), and a renamed project's new
 * path joins its path history like any rename.
 */
export const caseInsensitivePathsMigration = {
  async up(untyped: Kysely<unknown>): Promise<void> {
    const db = untyped as unknown as Kysely<PathTables>;
    const now = Date.now();
    // One rename at a time: renaming a group changes the full paths of everything below it.
    for (;;) {
      const groups = await db
        .selectFrom('groups')
        .select(['id', 'path', 'full_path'])
        .orderBy('id')
        .execute();
      const twin = younger(groups, (group) => group.full_path.toLowerCase());
      if (twin === undefined) break;
      const renamed = `${twin.full_path}-${twin.id}`;
      await db
        .updateTable('groups')
        .set({ path: `${twin.path}-${twin.id}`, full_path: renamed })
        .where('id', '=', twin.id)
        .execute();
      for (const below of groups.filter((group) => group.full_path.startsWith(`${twin.full_path}/`))) {
        await db
          .updateTable('groups')
          .set({ full_path: renamed + below.full_path.slice(twin.full_path.length) })
          .where('id', '=', below.id)
          .execute();
      }
      const projects = await db.selectFrom('projects').select(['id', 'path_with_namespace']).execute();
      for (const project of projects.filter((p) => p.path_with_namespace.startsWith(`${twin.full_path}/`))) {
        await renameProject(
          db,
          project.id,
          renamed + project.path_with_namespace.slice(twin.full_path.length),
          now,
        );
      }
    }
    for (;;) {
      const projects = await db
        .selectFrom('projects')
        .select(['id', 'path', 'namespace_id', 'path_with_namespace'])
        .orderBy('id')
        .execute();
      const twin = younger(projects, (project) => `${project.namespace_id}/${project.path.toLowerCase()}`);
      if (twin === undefined) break;
      await db
        .updateTable('projects')
        .set({ path: `${twin.path}-${twin.id}` })
        .where('id', '=', twin.id)
        .execute();
      await renameProject(db, twin.id, `${twin.path_with_namespace}-${twin.id}`, now);
    }
    await db.schema
      .createIndex('groups_full_path_lower')
      .on('groups')
      .unique()
      .expression(sql`lower(full_path)`)
      .execute();
    await db.schema
      .createIndex('projects_namespace_path_lower')
      .on('projects')
      .unique()
      .expression(sql`namespace_id, lower(path)`)
      .execute();
  },
};

/** The younger of the first two rows that share a key, in id order. */
function younger<T extends { id: number }>(rows: readonly T[], key: (row: T) => string): T | undefined {
  const seen = new Set<string>();
  for (const row of rows) {
    const k = key(row);
    if (seen.has(k)) return row;
    seen.add(k);
  }
  return undefined;
}

async function renameProject(db: Kysely<PathTables>, id: number, pathWithNamespace: string, now: number) {
  await db
    .updateTable('projects')
    .set({ path_with_namespace: pathWithNamespace })
    .where('id', '=', id)
    .execute();
  await db
    .insertInto('project_path_history')
    .values({ path: pathWithNamespace, project_id: id, created_at: now })
    .execute();
}
