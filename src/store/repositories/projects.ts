import { type ExpressionBuilder, type Selectable, sql } from 'kysely';
import type { Db } from '../open-store.js';
import { containsPattern, type Page, type PageWindow, readPage } from '../page-query.js';
import type { Database, ProjectsTable } from '../schema.js';

/** A stored project. */
export interface ProjectRecord
  extends Omit<Selectable<ProjectsTable>, 'subClaimComponents' | 'allowedAudiences' | 'publicJobs'> {
  subClaimComponents: string[];
  allowedAudiences: string[] | null;
  /** GitLab's `public_jobs`: whether people below the Reporter role may read the jobs (see `ciReadAccess`). */
  publicJobs: boolean;
}

/** Fields of a project that `PUT /projects/:id` may change. */
export type ProjectChanges = Partial<
  Pick<
    ProjectRecord,
    | 'name'
    | 'path'
    | 'pathWithNamespace'
    | 'visibility'
    | 'repositoryUrl'
    | 'defaultBranch'
    | 'ciConfigPath'
    | 'subClaimComponents'
    | 'allowedAudiences'
    | 'tokenMaxLifetime'
    | 'jobTimeout'
    | 'maxArtifactsSize'
    | 'publicJobs'
  >
>;

/** A `projects` row (as read, keys camelCased) as the record the coordinator uses. */
export function toProject(row: Selectable<ProjectsTable>): ProjectRecord {
  return {
    ...row,
    subClaimComponents: JSON.parse(row.subClaimComponents) as string[],
    allowedAudiences: row.allowedAudiences === null ? null : (JSON.parse(row.allowedAudiences) as string[]),
    publicJobs: row.publicJobs === 1,
  };
}

function toRow(changes: ProjectChanges): Partial<Selectable<ProjectsTable>> {
  const { subClaimComponents, allowedAudiences, publicJobs, ...rest } = changes;
  return {
    ...rest,
    ...(publicJobs !== undefined ? { publicJobs: publicJobs ? 1 : 0 } : {}),
    ...(subClaimComponents !== undefined ? { subClaimComponents: JSON.stringify(subClaimComponents) } : {}),
    ...(allowedAudiences !== undefined
      ? { allowedAudiences: allowedAudiences === null ? null : JSON.stringify(allowedAudiences) }
      : {}),
  };
}

/** GitLab's filters and orders of `GET /projects`. */
export interface ProjectListFilter {
  /** Only projects this user may see (public, internal, or private with a role); all when absent. */
  visibleTo?: number;
  /** Only projects where this user has at least `minimumLevel`, directly or through a group. */
  memberOf?: { userId: number; minimumLevel: number };
  /** Name or path containing this text, any case. */
  search?: string;
  visibility?: string;
  orderBy: 'id' | 'name' | 'path' | 'createdAt' | 'updatedAt';
  sort: 'asc' | 'desc';
  /** Keyset pagination (order by id): only ids after (greater than) or before this one. */
  idAfter?: number;
  idBefore?: number;
}

/**
 * Whether `userId` has at least `minimumLevel` on the project of the outer row: a project
 * membership, or one on its group or an ancestor group (whose full path prefixes the project's).
 */
function hasRole(eb: ExpressionBuilder<Database, 'projects'>, userId: number, minimumLevel: number) {
  return eb.or([
    eb.exists(
      eb
        .selectFrom('members')
        .select('members.id')
        .where('members.sourceType', '=', 'project')
        .whereRef('members.sourceId', '=', 'projects.id')
        .where('members.userId', '=', userId)
        .where('members.accessLevel', '>=', minimumLevel),
    ),
    eb.exists(
      eb
        .selectFrom('members')
        .innerJoin('groups', 'groups.id', 'members.sourceId')
        .select('members.id')
        .where('members.sourceType', '=', 'group')
        .where('members.userId', '=', userId)
        .where('members.accessLevel', '>=', minimumLevel)
        .where(
          sql<boolean>`substr(projects.path_with_namespace, 1, length(groups.full_path) + 1) = groups.full_path || '/'`,
        ),
    ),
  ]);
}

/** Projects and the history of their paths. */
export class ProjectRepository {
  constructor(private readonly db: Db) {}

  /** Creates a project and records its path in the path history. */
  async create(
    input: Omit<ProjectRecord, 'id' | 'maxArtifactsSize' | 'publicJobs'> & {
      maxArtifactsSize?: number | null;
      /** On unless said otherwise, as GitLab's default. */
      publicJobs?: boolean;
    },
  ): Promise<ProjectRecord> {
    const { publicJobs, ...fields } = input;
    const row = await this.db
      .insertInto('projects')
      .values({
        ...fields,
        ...(publicJobs === undefined ? {} : { publicJobs: publicJobs ? 1 : 0 }),
        subClaimComponents: JSON.stringify(input.subClaimComponents),
        allowedAudiences: input.allowedAudiences === null ? null : JSON.stringify(input.allowedAudiences),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await this.recordPath(row.id, row.pathWithNamespace, input.createdAt);
    return toProject(row);
  }

  async findById(id: number): Promise<ProjectRecord | undefined> {
    const row = await this.db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toProject(row);
  }

  /** The project at `group/project`, whatever the case of the letters (paths are unique without case, as GitLab's). */
  async findByPath(pathWithNamespace: string): Promise<ProjectRecord | undefined> {
    const row = await this.db
      .selectFrom('projects')
      .selectAll()
      .where(sql`lower(path_with_namespace)`, '=', pathWithNamespace.toLowerCase())
      .executeTakeFirst();
    return row && toProject(row);
  }

  async list(): Promise<ProjectRecord[]> {
    return (await this.db.selectFrom('projects').selectAll().orderBy('id').execute()).map(toProject);
  }

  /** One page of the projects that pass `filter`, in its order (ties broken by id), read in SQL. */
  async page(filter: ProjectListFilter, window: PageWindow): Promise<Page<ProjectRecord>> {
    let query = this.db.selectFrom('projects').selectAll();
    const { visibleTo, memberOf } = filter;
    if (visibleTo !== undefined)
      query = query.where((eb) => eb.or([eb('visibility', '!=', 'private'), hasRole(eb, visibleTo, 1)]));
    if (memberOf !== undefined)
      query = query.where((eb) => hasRole(eb, memberOf.userId, memberOf.minimumLevel));
    if (filter.search !== undefined) {
      const pattern = containsPattern(filter.search);
      query = query.where((eb) =>
        eb.or([
          eb(sql`lower(name)`, 'like', sql`${pattern} escape '\\'`),
          eb(sql`lower(path)`, 'like', sql`${pattern} escape '\\'`),
        ]),
      );
    }
    if (filter.visibility !== undefined) query = query.where('visibility', '=', filter.visibility);
    if (filter.idAfter !== undefined) query = query.where('id', '>', filter.idAfter);
    if (filter.idBefore !== undefined) query = query.where('id', '<', filter.idBefore);
    query = query.orderBy(filter.orderBy, filter.sort);
    if (filter.orderBy !== 'id') query = query.orderBy('id', filter.sort);
    const page = await readPage(query, window);
    return { items: page.items.map(toProject), total: page.total };
  }

  /** Applies `changes`; a new path is added to the path history. */
  async update(id: number, changes: ProjectChanges, now: number): Promise<ProjectRecord> {
    const row = await this.db
      .updateTable('projects')
      .set({ ...toRow(changes), updatedAt: now })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    if (changes.pathWithNamespace !== undefined) await this.recordPath(id, changes.pathWithNamespace, now);
    return toProject(row);
  }

  /** Whether another project ever held `path` (DESIGN 3.3: a renamed path must not pass on trust). */
  async pathHeldByAnother(projectId: number, path: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('projectPathHistory')
      .select('id')
      .where('path', '=', path)
      .where('projectId', '!=', projectId)
      .executeTakeFirst();
    return row !== undefined;
  }

  private async recordPath(projectId: number, path: string, now: number): Promise<void> {
    const known = await this.db
      .selectFrom('projectPathHistory')
      .select('id')
      .where('path', '=', path)
      .where('projectId', '=', projectId)
      .executeTakeFirst();
    if (!known)
      await this.db.insertInto('projectPathHistory').values({ path, projectId, createdAt: now }).execute();
  }
}
