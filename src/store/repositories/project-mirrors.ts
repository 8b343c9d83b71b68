import type { Selectable } from 'kysely';
import type { Db } from '../open-store.js';
import type { ProjectMirrorsTable } from '../schema.js';

/** A project's pull-mirroring settings and state. */
export interface ProjectMirrorRecord
  extends Omit<
    Selectable<ProjectMirrorsTable>,
    'enabled' | 'triggerBuilds' | 'onlyProtectedBranches' | 'overwritesDivergedBranches' | 'knownRefs'
  > {
  enabled: boolean;
  triggerBuilds: boolean;
  onlyProtectedBranches: boolean;
  overwritesDivergedBranches: boolean;
  /** Full ref name to commit, as last seen; null before the first look. */
  knownRefs: Record<string, string> | null;
}

/** Settings `POST/PUT /projects` may set. */
export type ProjectMirrorSettings = Pick<
  ProjectMirrorRecord,
  'enabled' | 'triggerBuilds' | 'userId' | 'onlyProtectedBranches' | 'overwritesDivergedBranches'
>;

const FLAGS = ['enabled', 'triggerBuilds', 'onlyProtectedBranches', 'overwritesDivergedBranches'] as const;

function toMirror(row: Selectable<ProjectMirrorsTable>): ProjectMirrorRecord {
  return {
    ...row,
    enabled: row.enabled === 1,
    triggerBuilds: row.triggerBuilds === 1,
    onlyProtectedBranches: row.onlyProtectedBranches === 1,
    overwritesDivergedBranches: row.overwritesDivergedBranches === 1,
    knownRefs: row.knownRefs === null ? null : (JSON.parse(row.knownRefs) as Record<string, string>),
    nextCheckAt: Number(row.nextCheckAt),
    leaseExpiresAt: row.leaseExpiresAt === null ? null : Number(row.leaseExpiresAt),
  };
}

function flagsToRow(settings: Partial<ProjectMirrorSettings>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const flag of FLAGS) {
    const value = settings[flag];
    if (value !== undefined) out[flag] = value ? 1 : 0;
  }
  return out;
}

/** Pull-mirroring rows, one per project that ever had mirroring set. */
export class ProjectMirrorRepository {
  constructor(private readonly db: Db) {}

  async find(projectId: number): Promise<ProjectMirrorRecord | undefined> {
    const row = await this.db
      .selectFrom('projectMirrors')
      .selectAll()
      .where('projectId', '=', projectId)
      .executeTakeFirst();
    return row && toMirror(row);
  }

  /** Creates or changes the settings; a new row is first looked at `nextCheckAt`. */
  async upsert(
    projectId: number,
    settings: Partial<ProjectMirrorSettings> & { webhookSecret?: string | null },
    defaults: ProjectMirrorSettings & { nextCheckAt: number },
  ): Promise<ProjectMirrorRecord> {
    const existing = await this.find(projectId);
    const { webhookSecret, userId, ...flags } = settings;
    if (!existing) {
      const row = await this.db
        .insertInto('projectMirrors')
        .values({
          projectId,
          enabled: (flags.enabled ?? defaults.enabled) ? 1 : 0,
          triggerBuilds: (flags.triggerBuilds ?? defaults.triggerBuilds) ? 1 : 0,
          onlyProtectedBranches: (flags.onlyProtectedBranches ?? defaults.onlyProtectedBranches) ? 1 : 0,
          overwritesDivergedBranches:
            (flags.overwritesDivergedBranches ?? defaults.overwritesDivergedBranches) ? 1 : 0,
          userId: userId ?? defaults.userId,
          webhookSecret: webhookSecret ?? null,
          knownRefs: null,
          nextCheckAt: defaults.nextCheckAt,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toMirror(row);
    }
    const row = await this.db
      .updateTable('projectMirrors')
      .set({
        ...flagsToRow(flags),
        ...(userId === undefined ? {} : { userId }),
        ...(webhookSecret === undefined ? {} : { webhookSecret }),
      })
      .where('projectId', '=', projectId)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toMirror(row);
  }

  /** Enabled mirrors whose next look has come, soonest first. */
  async listDue(now: number, limit: number): Promise<ProjectMirrorRecord[]> {
    const rows = await this.db
      .selectFrom('projectMirrors')
      .selectAll()
      .where('enabled', '=', 1)
      .where('nextCheckAt', '<=', now)
      .where((eb) => eb.or([eb('leaseExpiresAt', 'is', null), eb('leaseExpiresAt', '<=', now)]))
      .orderBy('nextCheckAt')
      .limit(limit)
      .execute();
    return rows.map(toMirror);
  }

  /**
   * Takes the lease of the project's mirror for `owner` until `until`, when nobody holds an
   * unexpired one: only the winner looks at the repository and starts pipelines. Answers whether it won.
   */
  async claim(projectId: number, owner: string, now: number, until: number): Promise<boolean> {
    const result = await this.db
      .updateTable('projectMirrors')
      .set({ leaseOwner: owner, leaseExpiresAt: until })
      .where('projectId', '=', projectId)
      .where('enabled', '=', 1)
      .where((eb) => eb.or([eb('leaseExpiresAt', 'is', null), eb('leaseExpiresAt', '<=', now)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Records what a look found and gives the lease back (only the lease's owner may). */
  async release(
    projectId: number,
    owner: string,
    outcome: {
      knownRefs?: Record<string, string>;
      nextCheckAt: number;
      now: number;
      error: string | null;
    },
  ): Promise<void> {
    await this.db
      .updateTable('projectMirrors')
      .set({
        ...(outcome.knownRefs === undefined ? {} : { knownRefs: JSON.stringify(outcome.knownRefs) }),
        nextCheckAt: outcome.nextCheckAt,
        leaseOwner: null,
        leaseExpiresAt: null,
        lastUpdateAt: outcome.now,
        lastError: outcome.error,
        ...(outcome.error === null ? { lastSuccessfulUpdateAt: outcome.now } : {}),
      })
      .where('projectId', '=', projectId)
      .where('leaseOwner', '=', owner)
      .execute();
  }

  /** Sets the next look to `at` (a webhook arrived while another node held the lease: as soon as it is free). */
  async requestCheck(projectId: number, at: number): Promise<void> {
    await this.db
      .updateTable('projectMirrors')
      .set({ nextCheckAt: at })
      .where('projectId', '=', projectId)
      .execute();
  }

  /** Forgets the refs seen (mirroring switched on again, another repository): the next look is a first look. */
  async resetBaseline(projectId: number, nextCheckAt: number): Promise<void> {
    await this.db
      .updateTable('projectMirrors')
      .set({ knownRefs: null, nextCheckAt })
      .where('projectId', '=', projectId)
      .execute();
  }
}
