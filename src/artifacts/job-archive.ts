import type { FastifyReply } from 'fastify';
import { ACCESS_LEVELS } from '../coordinator/access-level.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import { ciReadAccess } from '../coordinator/permissions.js';
import { TesseraError } from '../errors.js';
import type { PlannedJob } from '../pipeline/plan.js';
import type { JobArtifactRecord } from '../store/repositories/job-artifacts.js';
import type { JobRecord } from '../store/repositories/jobs.js';
import type { ProjectRecord } from '../store/repositories/projects.js';

/**
 * The role `artifacts:access` asks for to download a job's artifacts, or null for `none`. For
 * `all` it answers reporter, the role that always reads the job's log; `mayDownloadArtifacts`
 * lets in whoever else reads the jobs (`ciReadAccess`) too.
 */
export function artifactsAccessLevel(job: JobRecord<PlannedJob>): number | null {
  switch (job.spec.artifacts?.access ?? 'all') {
    case 'all':
      return ACCESS_LEVELS.reporter;
    case 'developer':
      return ACCESS_LEVELS.developer;
    case 'maintainer':
      return ACCESS_LEVELS.maintainer;
    default:
      return null;
  }
}

/** Who reads: their role on the job's project (0: none), and whether they are signed in. */
export interface ArtifactReader {
  readonly level: number;
  readonly signedIn: boolean;
}

/**
 * Whether `reader` may download the job's artifacts. GitLab's `Ci::JobArtifactPolicy`: whoever
 * may read the project's jobs (see `ciReadAccess`: on a public project everyone, while its
 * `public_jobs` is on) may, unless `artifacts:access` (or `public: false`) asks for a role.
 */
export function mayDownloadArtifacts(
  job: JobRecord<PlannedJob>,
  reader: ArtifactReader,
  project: Pick<ProjectRecord, 'visibility' | 'publicJobs'>,
): boolean {
  const needed = artifactsAccessLevel(job);
  if (needed === null || !ciReadAccess(project, reader.level, reader.signedIn).jobs) return false;
  return needed === ACCESS_LEVELS.reporter || reader.level >= needed;
}

/**
 * Refuses a reader who may not download the job's artifacts: as `ERR_ARTIFACTS_NOT_FOUND`
 * (GitLab answers 404, not saying the artifacts exist).
 */
export function requireArtifactsReadable(
  job: JobRecord<PlannedJob>,
  reader: ArtifactReader,
  project: Pick<ProjectRecord, 'visibility' | 'publicJobs'>,
): void {
  if (!mayDownloadArtifacts(job, reader, project))
    throw new TesseraError('ERR_ARTIFACTS_NOT_FOUND', `job ${job.id} has no artifacts you may download`);
}

/** The job's archive record, unexpired and with bytes in the store, or `ERR_ARTIFACTS_NOT_FOUND`. */
export async function findJobArchive(
  coordinator: Coordinator,
  job: JobRecord<PlannedJob>,
): Promise<JobArtifactRecord> {
  const record = await coordinator.repos.jobArtifacts.find(job.id, 'archive');
  if (
    record === undefined ||
    record.storeKey === '' ||
    (record.expireAt !== null && record.expireAt <= coordinator.clock())
  )
    throw new TesseraError(
      'ERR_ARTIFACTS_NOT_FOUND',
      `job ${job.id} has no artifacts (none were uploaded, or they expired)`,
    );
  return record;
}

/** Streams an archive from the artifact store as a zip attachment named as it was uploaded. */
export async function sendJobArchive(
  coordinator: Coordinator,
  reply: FastifyReply,
  record: JobArtifactRecord,
): Promise<FastifyReply> {
  const stored = await coordinator.artifactStore.get(record.storeKey);
  if (stored === undefined)
    throw new TesseraError('ERR_ARTIFACTS_NOT_FOUND', 'the artifacts are gone from the store');
  return reply
    .header('content-type', 'application/zip')
    .header('content-length', String(stored.size))
    .header('content-disposition', `attachment; filename="${record.fileName.replace(/["\\\r\n]/g, '_')}"`)
    .send(stored.stream);
}

/**
 * Downloads a job's archive for `reader`: the `artifacts:access`
 * check, the record, the bytes. The API's `GET …/jobs/:job_id/artifacts` and the web page's
 * `…/-/jobs/:id/artifacts/download` both answer with this.
 */
export async function downloadJobArchive(
  coordinator: Coordinator,
  reply: FastifyReply,
  job: JobRecord<PlannedJob>,
  reader: ArtifactReader,
  project: Pick<ProjectRecord, 'visibility' | 'publicJobs'>,
): Promise<FastifyReply> {
  requireArtifactsReadable(job, reader, project);
  return sendJobArchive(coordinator, reply, await findJobArchive(coordinator, job));
}
