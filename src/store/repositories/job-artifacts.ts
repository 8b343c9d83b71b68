import type { Insertable, Selectable } from 'kysely';
import type { Db } from '../open-store.js';
import type { JobArtifactsTable } from '../schema.js';

/** A stored artifact file of a job. */
export type JobArtifactRecord = Selectable<JobArtifactsTable>;

/** Artifact files of jobs (their bytes live in the artifact store under `storeKey`). */
export class JobArtifactRepository {
  constructor(private readonly db: Db) {}

  /**
   * Records a file, replacing the job's earlier file of the same type (a runner that uploads
   * twice); answers the replaced row's store key so its bytes can be deleted.
   */
  async replace(
    input: Insertable<JobArtifactsTable>,
  ): Promise<{ record: JobArtifactRecord; replaced: string | null }> {
    // Not in a transaction of its own: the repository may already be bound to one.
    const old = await this.db
      .deleteFrom('jobArtifacts')
      .where('jobId', '=', input.jobId)
      .where('fileType', '=', input.fileType)
      .returning('storeKey')
      .executeTakeFirst();
    const record = await this.db
      .insertInto('jobArtifacts')
      .values(input)
      .returningAll()
      .executeTakeFirstOrThrow();
    return { record, replaced: old?.storeKey ?? null };
  }

  /** Every file of a job. */
  async listByJob(jobId: number): Promise<JobArtifactRecord[]> {
    return this.db.selectFrom('jobArtifacts').selectAll().where('jobId', '=', jobId).orderBy('id').execute();
  }

  /** Every file of the given jobs. */
  async listByJobs(jobIds: readonly number[]): Promise<JobArtifactRecord[]> {
    if (jobIds.length === 0) return [];
    return this.db
      .selectFrom('jobArtifacts')
      .selectAll()
      .where('jobId', 'in', jobIds)
      .orderBy('id')
      .execute();
  }

  /** One file of a job by type. */
  async find(jobId: number, fileType: string): Promise<JobArtifactRecord | undefined> {
    return this.db
      .selectFrom('jobArtifacts')
      .selectAll()
      .where('jobId', '=', jobId)
      .where('fileType', '=', fileType)
      .executeTakeFirst();
  }

  /** Keeps every file of a job (`POST …/artifacts/keep`). */
  async keep(jobId: number): Promise<void> {
    await this.db.updateTable('jobArtifacts').set({ expireAt: null }).where('jobId', '=', jobId).execute();
  }

  /** Deletes every file row of a job; answers their store keys. */
  async deleteByJob(jobId: number): Promise<string[]> {
    const rows = await this.db
      .deleteFrom('jobArtifacts')
      .where('jobId', '=', jobId)
      .returning('storeKey')
      .execute();
    return rows.map((row) => row.storeKey);
  }

  /** Deletes up to `limit` rows expired at `now`; answers their store keys. */
  async deleteExpired(now: number, limit: number): Promise<string[]> {
    const ids = await this.db
      .selectFrom('jobArtifacts')
      .select('id')
      .where('expireAt', 'is not', null)
      .where('expireAt', '<=', now)
      .limit(limit)
      .execute();
    if (ids.length === 0) return [];
    const rows = await this.db
      .deleteFrom('jobArtifacts')
      .where(
        'id',
        'in',
        ids.map((row) => row.id),
      )
      .returning('storeKey')
      .execute();
    return rows.map((row) => row.storeKey);
  }
}
