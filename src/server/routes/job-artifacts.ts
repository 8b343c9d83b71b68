import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { deleteJobArtifacts } from '../../artifacts/expire-artifacts.js';
import {
  type ArtifactReader,
  downloadJobArchive,
  findJobArchive,
  requireArtifactsReadable,
} from '../../artifacts/job-archive.js';
import { openZipEntry, readZipDirectory } from '../../artifacts/zip-reader.js';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import { findProjectByIdOrPath, projectAccessLevel } from '../../coordinator/permissions.js';
import { hashSecret } from '../../coordinator/secret-token.js';
import { TesseraError } from '../../errors.js';
import type { PlannedJob } from '../../pipeline/plan.js';
import type { JobArtifactRecord } from '../../store/repositories/job-artifacts.js';
import type { JobRecord } from '../../store/repositories/jobs.js';
import type { ProjectRecord } from '../../store/repositories/projects.js';
import { authenticateForProject, presentedToken, recordAuthFailure } from '../authenticate.js';
import { projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';
import { renderJob } from './jobs.js';

const jobParams = {
  type: 'object',
  required: ['id', 'job_id'],
  properties: { ...projectParams.properties, job_id: { type: 'integer', minimum: 1, maximum: 2147483647 } },
} as const;
const refParams = {
  type: 'object',
  required: ['id', 'ref_name'],
  properties: { ...projectParams.properties, ref_name: { type: 'string', minLength: 1, maxLength: 255 } },
} as const;
const jobTokenQuery = {
  type: 'object',
  properties: { job_token: { type: 'string', maxLength: 1024 } },
} as const;
const jobQuery = {
  type: 'object',
  required: ['job'],
  properties: { job: { type: 'string', minLength: 1, maxLength: 255 }, ...jobTokenQuery.properties },
} as const;

type ReadRequest = FastifyRequest<{ Params: { id: string }; Querystring: { job_token?: string } }>;

/** The project of a read and who reads it (see `mayDownloadArtifacts`). */
interface AuthorizedRead {
  project: ProjectRecord;
  reader: ArtifactReader;
}

/** The job token a request presents: the `JOB-TOKEN` header, or `job_token` in the query (GitLab's forms). */
function presentedJobToken(request: ReadRequest): string | undefined {
  const header = request.headers['job-token'];
  if (typeof header === 'string' && header !== '') return header;
  const query = request.query?.job_token;
  return typeof query === 'string' && query !== '' ? query : undefined;
}

/**
 * GitLab's job artifacts API: `GET /projects/:id/jobs/:job_id/artifacts` (the archive),
 * `…/artifacts/*artifact_path` (one file of it), `GET /projects/:id/jobs/artifacts/:ref_name/download?job=`
 * and `…/raw/*artifact_path?job=` (the latest successful job of that name on the ref), with a
 * personal access token or a running job's `CI_JOB_TOKEN` (`JOB-TOKEN` header or `job_token`),
 * `POST …/artifacts/keep`, `DELETE …/artifacts`. Reading needs what reading the job's log needs
 * (`ciReadAccess`), or more when `artifacts:access` says so; a `public` project's artifacts with
 * `access: all` are everyone's while its `public_jobs` is on, without a token too (as GitLab).
 */
export function registerJobArtifactRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;

  const archiveOf = (job: JobRecord<PlannedJob>) => findJobArchive(coordinator, job);

  /**
   * The project of a read and the role it is read with: a personal access token's user, as every
   * project route; or a running job's `CI_JOB_TOKEN`, as GitLab allows on these four routes. A job
   * token reads its own project's artifacts always (at least as a reporter), and another project's
   * only as far as the user who started its pipeline may (GitLab's job token scope with its default
   * of allowing: Tessera has no allow-list yet). Anything else is a 404 that says nothing of the project.
   */
  const authorizeRead = async (request: ReadRequest): Promise<AuthorizedRead> => {
    const token = presentedJobToken(request);
    if (token === undefined) return authorizePersonRead(request);
    const job = await coordinator.repos.jobs.findByTokenHash<PlannedJob>(hashSecret(token));
    if (job === undefined || job.status !== 'running') {
      recordAuthFailure(context, request);
      throw new TesseraError('ERR_JOB_TOKEN_INVALID', 'the job token is not the token of a running job');
    }
    const id = request.params.id;
    const project = await findProjectByIdOrPath(coordinator, id);
    const notFound = new TesseraError('ERR_NOT_FOUND', `project ${id} not found`);
    if (project === undefined) throw notFound;
    const user = job.userId === null ? undefined : await coordinator.repos.users.findById(job.userId);
    const userLevel =
      user === undefined || user.state !== 'active'
        ? 0
        : user.isAdmin
          ? ACCESS_LEVELS.owner
          : ((await projectAccessLevel(coordinator, user.id, project)) ?? 0);
    if (project.id === job.projectId)
      return { project, reader: { level: Math.max(userLevel, ACCESS_LEVELS.reporter), signedIn: true } };
    if (userLevel < ACCESS_LEVELS.reporter) throw notFound;
    return { project, reader: { level: userLevel, signedIn: true } };
  };

  /**
   * A read by a person: with a personal access token, anyone who may see the project, with their
   * role; without any token, a `public` project only (GitLab lets visitors download a public
   * project's artifacts), role 0. Without a token a private, internal or missing project is the
   * same 404, so the answer does not say which exist. Whether the reader may read the project's
   * jobs, and whether the job's `artifacts:access` lets their role through, is the route's check.
   */
  const authorizePersonRead = async (request: ReadRequest): Promise<AuthorizedRead> => {
    const id = request.params.id;
    const project = await findProjectByIdOrPath(coordinator, id);
    if (presentedToken(request) === undefined) {
      if (project?.visibility !== 'public')
        throw new TesseraError('ERR_NOT_FOUND', `project ${id} not found`);
      return { project, reader: { level: 0, signedIn: false } };
    }
    const { project: found, level } = await authenticateForProject(context, request, 0);
    return { project: found, reader: { level, signedIn: true } };
  };

  const loadJob = async (project: ProjectRecord, jobId: number) => {
    const job = await coordinator.repos.jobs.findById<PlannedJob>(jobId);
    if (!job || job.projectId !== project.id)
      throw new TesseraError('ERR_NOT_FOUND', `job ${jobId} not found`);
    return job;
  };

  const latestOnRef = async (project: ProjectRecord, ref: string, name: string) => {
    for (const pipeline of await coordinator.repos.pipelines.listByProject(project.id, 100)) {
      if (pipeline.ref !== ref || pipeline.status !== 'success') continue;
      const jobs = await coordinator.repos.jobs.listByPipeline<PlannedJob>(pipeline.id, true);
      const job = jobs.find((candidate) => candidate.name === name && candidate.status === 'success');
      if (job) return job;
    }
    throw new TesseraError(
      'ERR_ARTIFACTS_NOT_FOUND',
      `no successful job "${name}" on ref "${ref}" with artifacts`,
    );
  };

  const sendFile = async (reply: FastifyReply, record: JobArtifactRecord, path: string) => {
    const wanted = path.replace(/^\/+/, '');
    const source = await coordinator.artifactStore.open(record.storeKey);
    if (source === undefined)
      throw new TesseraError('ERR_ARTIFACTS_NOT_FOUND', 'the artifacts are gone from the store');
    let keepOpen = false;
    try {
      const entry = (await readZipDirectory(source)).find(
        (candidate) => candidate.kind === 'file' && candidate.name === wanted,
      );
      if (entry === undefined)
        throw new TesseraError('ERR_ARTIFACTS_NOT_FOUND', `${wanted} is not in the artifacts archive`);
      const stream = await openZipEntry(source, entry);
      keepOpen = true;
      stream.once('close', () => void source.close());
      const base = wanted.split('/').pop() ?? 'file';
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(entry.size))
        .header('content-disposition', `attachment; filename="${base.replace(/["\\\r\n]/g, '_')}"`)
        .send(stream);
    } finally {
      if (!keepOpen) await source.close();
    }
  };

  app.get<{ Params: { id: string; job_id: number }; Querystring: { job_token?: string } }>(
    '/api/v4/projects/:id/jobs/:job_id/artifacts',
    { schema: { params: jobParams, querystring: jobTokenQuery } },
    async (request, reply) => {
      const { project, reader } = await authorizeRead(request);
      const job = await loadJob(project, request.params.job_id);
      return downloadJobArchive(coordinator, reply, job, reader, project);
    },
  );

  app.get<{ Params: { id: string; job_id: number; '*': string }; Querystring: { job_token?: string } }>(
    '/api/v4/projects/:id/jobs/:job_id/artifacts/*',
    {
      schema: {
        querystring: jobTokenQuery,
        params: {
          ...jobParams,
          properties: { ...jobParams.properties, '*': { type: 'string', minLength: 1, maxLength: 4096 } },
        },
      },
    },
    async (request, reply) => {
      const { project, reader } = await authorizeRead(request);
      const job = await loadJob(project, request.params.job_id);
      requireArtifactsReadable(job, reader, project);
      return sendFile(reply, await archiveOf(job), request.params['*']);
    },
  );

  app.get<{ Params: { id: string; ref_name: string }; Querystring: { job: string; job_token?: string } }>(
    '/api/v4/projects/:id/jobs/artifacts/:ref_name/download',
    { schema: { params: refParams, querystring: jobQuery } },
    async (request, reply) => {
      const { project, reader } = await authorizeRead(request);
      const job = await latestOnRef(project, request.params.ref_name, request.query.job);
      return downloadJobArchive(coordinator, reply, job, reader, project);
    },
  );

  app.get<{
    Params: { id: string; ref_name: string; '*': string };
    Querystring: { job: string; job_token?: string };
  }>(
    '/api/v4/projects/:id/jobs/artifacts/:ref_name/raw/*',
    {
      schema: {
        params: {
          ...refParams,
          properties: { ...refParams.properties, '*': { type: 'string', minLength: 1, maxLength: 4096 } },
        },
        querystring: jobQuery,
      },
    },
    async (request, reply) => {
      const { project, reader } = await authorizeRead(request);
      const job = await latestOnRef(project, request.params.ref_name, request.query.job);
      requireArtifactsReadable(job, reader, project);
      return sendFile(reply, await archiveOf(job), request.params['*']);
    },
  );

  app.post<{ Params: { id: string; job_id: number } }>(
    '/api/v4/projects/:id/jobs/:job_id/artifacts/keep',
    { schema: { params: jobParams } },
    async (request) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.developer);
      const job = await loadJob(project, request.params.job_id);
      await archiveOf(job);
      await coordinator.repos.jobArtifacts.keep(job.id);
      const pipeline = await coordinator.repos.pipelines.findById(job.pipelineId);
      if (!pipeline) throw new TesseraError('ERR_NOT_FOUND', `job ${job.id} not found`);
      return renderJob(coordinator, project, pipeline, job);
    },
  );

  app.delete<{ Params: { id: string; job_id: number } }>(
    '/api/v4/projects/:id/jobs/:job_id/artifacts',
    { schema: { params: jobParams } },
    async (request, reply) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
      const job = await loadJob(project, request.params.job_id);
      await deleteJobArtifacts(coordinator, job.id);
      return reply.status(204).send();
    },
  );
}
