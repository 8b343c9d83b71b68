import type { FastifyReply } from 'fastify';
import { ACCESS_LEVELS } from '../coordinator/access-level.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import { TesseraError } from '../errors.js';
import type { PlannedJob } from '../pipeline/plan.js';
import type { JobArtifactRecord } from '../store/repositories/job-artifacts.js';
import type { JobRecord } from '../store/repositories/jobs.js';
import type { ProjectRecord } from '../store/repositories/projects.js';

/**
 * The role `artifacts:access` asks for to download a job's artifacts (reporter, the role that
 * reads the job's log, unless it asks for more), or null for `none`.
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

/**
 * Whether someone with role `level` on the job's project (0: none, or a visitor who is not signed
 * in) may download its artifacts. GitLab's `Ci::JobArtifactPolicy`: whoever may read the project's
 * jobs may, unless `artifacts:access` (or `public: false`) asks for a role; so on a `public` project
 * (whose jobs everyone reads: Tessera has no "public pipelines" switch, GitLab's default is on)
 * artifacts with `access: all` are everyone's, visitors included. Private and internal projects
 * need the role always.
 */
export function mayDownloadArtifacts(
  job: JobRecord<PlannedJob>,
  level: number,
  project: Pick<ProjectRecord, 'visibility'>,
): boolean {
  const needed = artifactsAccessLevel(job);
  if (needed === null) return false;
  if (needed === ACCESS_LEVELS.reporter && project.visibility === 'public') return true;
  return level >= needed;
}

/**
 * Refuses a user whose role is below what `artifacts:access` asks for: as `ERR_ARTIFACTS_NOT_FOUND`
 * (GitLab answers 404, not saying the artifacts exist).
 */
export function requireArtifactsReadable(
  job: JobRecord<PlannedJob>,
  level: number,
  project: Pick<ProjectRecord, 'visibility'>,
): void {
  if (!mayDownloadArtifacts(job, level, project))
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
 * Downloads a job's archive for someone with role `level` on its project: the `artifacts:access`
 * check, the record, the bytes. The API's `GET …/jobs/:job_id/artifacts` and the web page's
 * `…/-/jobs/:id/artifacts/download` both answer with this.
 */
export async function downloadJobArchive(
  coordinator: Coordinator,
  reply: FastifyReply,
  job: JobRecord<PlannedJob>,
  level: number,
  project: Pick<ProjectRecord, 'visibility'>,
): Promise<FastifyReply> {
  requireArtifactsReadable(job, level, project);
  return sendJobArchive(coordinator, reply, await findJobArchive(coordinator, job));
}
