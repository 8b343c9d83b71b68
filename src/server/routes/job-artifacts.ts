import type { FastifyInstance, FastifyReply } from 'fastify';
import { deleteJobArtifacts } from '../../artifacts/expire-artifacts.js';
import { downloadJobArchive, findJobArchive, requireArtifactsReadable } from '../../artifacts/job-archive.js';
import { openZipEntry, readZipDirectory } from '../../artifacts/zip-reader.js';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import { TesseraError } from '../../errors.js';
import type { PlannedJob } from '../../pipeline/plan.js';
import type { JobArtifactRecord } from '../../store/repositories/job-artifacts.js';
import type { JobRecord } from '../../store/repositories/jobs.js';
import type { ProjectRecord } from '../../store/repositories/projects.js';
import { authenticateForProject } from '../authenticate.js';
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
const jobQuery = {
  type: 'object',
  required: ['job'],
  properties: { job: { type: 'string', minLength: 1, maxLength: 255 } },
} as const;

/**
 * GitLab's job artifacts API: `GET /projects/:id/jobs/:job_id/artifacts` (the archive),
 * `…/artifacts/*artifact_path` (one file of it), `GET /projects/:id/jobs/artifacts/:ref_name/download?job=`
 * and `…/raw/*artifact_path?job=` (the latest successful job of that name on the ref),
 * `POST …/artifacts/keep`, `DELETE …/artifacts`. Reading needs what reading the job's log needs
 * (reporter), or more when `artifacts:access` says so.
 */
export function registerJobArtifactRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;

  const archiveOf = (job: JobRecord<PlannedJob>) => findJobArchive(coordinator, job);

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

  app.get<{ Params: { id: string; job_id: number } }>(
    '/api/v4/projects/:id/jobs/:job_id/artifacts',
    { schema: { params: jobParams } },
    async (request, reply) => {
      const { project, level } = await authenticateForProject(context, request, ACCESS_LEVELS.reporter);
      const job = await loadJob(project, request.params.job_id);
      return downloadJobArchive(coordinator, reply, job, level);
    },
  );

  app.get<{ Params: { id: string; job_id: number; '*': string } }>(
    '/api/v4/projects/:id/jobs/:job_id/artifacts/*',
    {
      schema: {
        params: {
          ...jobParams,
          properties: { ...jobParams.properties, '*': { type: 'string', minLength: 1, maxLength: 4096 } },
        },
      },
    },
    async (request, reply) => {
      const { project, level } = await authenticateForProject(context, request, ACCESS_LEVELS.reporter);
      const job = await loadJob(project, request.params.job_id);
      requireArtifactsReadable(job, level);
      return sendFile(reply, await archiveOf(job), request.params['*']);
    },
  );

  app.get<{ Params: { id: string; ref_name: string }; Querystring: { job: string } }>(
    '/api/v4/projects/:id/jobs/artifacts/:ref_name/download',
    { schema: { params: refParams, querystring: jobQuery } },
    async (request, reply) => {
      const { project, level } = await authenticateForProject(context, request, ACCESS_LEVELS.reporter);
      const job = await latestOnRef(project, request.params.ref_name, request.query.job);
      return downloadJobArchive(coordinator, reply, job, level);
    },
  );

  app.get<{ Params: { id: string; ref_name: string; '*': string }; Querystring: { job: string } }>(
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
      const { project, level } = await authenticateForProject(context, request, ACCESS_LEVELS.reporter);
      const job = await latestOnRef(project, request.params.ref_name, request.query.job);
      requireArtifactsReadable(job, level);
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
