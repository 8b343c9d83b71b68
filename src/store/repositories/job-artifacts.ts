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
    await this.db
      .updateTable('jobArtifacts')
      .set({ expireAt: null })
      .where('jobId', '=', jobId)
      .where('storeKey', '<>', '')
      .execute();
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

  /**
   * Marks up to `limit` files expired at `now` as swept (their store key emptied) and answers the
   * keys whose bytes to delete. The rows stay, so that a job depending on them learns that its
   * dependency's artifacts expired (GitLab's `missing_dependency_failure`) rather than that there
   * were none.
   */
  async sweepExpired(now: number, limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom('jobArtifacts')
      .select(['id', 'storeKey'])
      .where('expireAt', 'is not', null)
      .where('expireAt', '<=', now)
      .where('storeKey', '<>', '')
      .limit(limit)
      .execute();
    if (rows.length === 0) return [];
    const swept = await this.db
      .updateTable('jobArtifacts')
      .set({ storeKey: '' })
      .where(
        'id',
        'in',
        rows.map((row) => row.id),
      )
      .where('storeKey', '<>', '')
      .returning('id')
      .execute();
    const ids = new Set(swept.map((row) => row.id));
    // Another node may have swept some of them in between: each key is deleted by one node.
    return rows.filter((row) => ids.has(row.id)).map((row) => row.storeKey);
  }
}
