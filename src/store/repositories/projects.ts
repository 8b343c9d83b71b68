import type { Selectable } from 'kysely';
import type { Db } from '../open-store.js';
import type { ProjectsTable } from '../schema.js';

/** A stored project. */
export interface ProjectRecord
  extends Omit<Selectable<ProjectsTable>, 'subClaimComponents' | 'allowedAudiences'> {
  subClaimComponents: string[];
  allowedAudiences: string[] | null;
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
  >
>;

function toProject(row: Selectable<ProjectsTable>): ProjectRecord {
  return {
    ...row,
    subClaimComponents: JSON.parse(row.subClaimComponents) as string[],
    allowedAudiences: row.allowedAudiences === null ? null : (JSON.parse(row.allowedAudiences) as string[]),
  };
}

function toRow(changes: ProjectChanges): Partial<Selectable<ProjectsTable>> {
  const { subClaimComponents, allowedAudiences, ...rest } = changes;
  return {
    ...rest,
    ...(subClaimComponents !== undefined ? { subClaimComponents: JSON.stringify(subClaimComponents) } : {}),
    ...(allowedAudiences !== undefined
      ? { allowedAudiences: allowedAudiences === null ? null : JSON.stringify(allowedAudiences) }
      : {}),
  };
}

/** Projects and the history of their paths. */
export class ProjectRepository {
  constructor(private readonly db: Db) {}

  /** Creates a project and records its path in the path history. */
  async create(
    input: Omit<ProjectRecord, 'id' | 'maxArtifactsSize'> & { maxArtifactsSize?: number | null },
  ): Promise<ProjectRecord> {
    const row = await this.db
      .insertInto('projects')
      .values({
        ...input,
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

  async findByPath(pathWithNamespace: string): Promise<ProjectRecord | undefined> {
    const row = await this.db
      .selectFrom('projects')
      .selectAll()
      .where('pathWithNamespace', '=', pathWithNamespace)
      .executeTakeFirst();
    return row && toProject(row);
  }

  async list(): Promise<ProjectRecord[]> {
    return (await this.db.selectFrom('projects').selectAll().orderBy('id').execute()).map(toProject);
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
