import type { FastifyInstance } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import type { Coordinator } from '../../coordinator/coordinator.js';
import { cancelJob, checkMayChangeJob, eraseJob, playJob, retryJob } from '../../coordinator/job-actions.js';
import { jobCoverage } from '../../coordinator/job-coverage.js';
import { hashSecret } from '../../coordinator/secret-token.js';
import { TesseraError } from '../../errors.js';
import type { PlannedJob } from '../../pipeline/plan.js';
import type { JobRecord } from '../../store/repositories/jobs.js';
import type { PipelineRecord } from '../../store/repositories/pipelines.js';
import type { ProjectRecord } from '../../store/repositories/projects.js';
import { authenticateForProject, authenticateForProjectCi, recordAuthFailure } from '../authenticate.js';
import {
  type PaginationQuery,
  pageWindow,
  paginationProperties,
  setPaginationHeaders,
} from '../offset-pagination.js';
import { iso, projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';
import { renderUserPublic } from './users.js';

/** GitLab's job statuses a `scope` / `scope[]` may name. */
const JOB_SCOPES = [
  'created',
  'pending',
  'running',
  'failed',
  'success',
  'canceled',
  'skipped',
  'waiting_for_resource',
  'manual',
] as const;

/** GitLab's `scope` of job lists: one status or a list of them (`scope[]=failed&scope[]=success`). */
export const jobScopeSchema = {
  anyOf: [
    { type: 'string', enum: JOB_SCOPES },
    { type: 'array', maxItems: JOB_SCOPES.length, items: { type: 'string', enum: JOB_SCOPES } },
  ],
} as const;

/** The statuses a job list's `scope` names, or undefined for every status. */
export function jobScopeStatuses(scope: string | string[] | undefined): string[] | undefined {
  return scope === undefined ? undefined : Array.isArray(scope) ? scope : [scope];
}

/** GitLab's job shape. */
export async function renderJob(
  coordinator: Coordinator,
  project: ProjectRecord,
  pipeline: PipelineRecord,
  job: JobRecord<PlannedJob>,
) {
  const user = job.userId === null ? undefined : await coordinator.repos.users.findById(job.userId);
  const runner = job.runnerId === null ? undefined : await coordinator.repos.runners.findById(job.runnerId);
  const end = job.finishedAt ?? (job.startedAt !== null ? coordinator.clock() : null);
  const now = coordinator.clock();
  const files = (await coordinator.repos.jobArtifacts.listByJob(job.id)).filter(
    (file) => file.storeKey !== '' && (file.expireAt === null || file.expireAt > now),
  );
  const archive = files.find((file) => file.fileType === 'archive');
  return {
    id: job.id,
    name: job.name,
    stage: job.stage,
    status: job.status,
    ref: pipeline.ref,
    tag: pipeline.refType === 'tag',
    allow_failure: job.allowFailure,
    when: job.whenCondition,
    created_at: iso(job.createdAt),
    queued_at: iso(job.queuedAt),
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    duration: job.startedAt !== null && end !== null ? (end - job.startedAt) / 1000 : null,
    failure_reason: job.failureReason ?? undefined,
    exit_code: job.exitCode,
    coverage: job.spec.coverage ? await jobCoverage(coordinator.store.db, job.id) : null,
    retried: job.retried,
    attempt: job.attempt,
    timeout: job.timeoutSeconds,
    tag_list: job.tags,
    environment: job.spec.environment
      ? {
          name: job.spec.environment.name,
          action: job.spec.environment.action,
          deployment_tier: job.spec.environment.deploymentTier,
        }
      : null,
    user: user ? renderUserPublic(user, coordinator.urls.serverUrl) : null,
    pipeline: {
      id: pipeline.id,
      iid: pipeline.iid,
      project_id: pipeline.projectId,
      ref: pipeline.ref,
      sha: pipeline.sha,
      status: pipeline.status,
      source: pipeline.source,
    },
    runner: runner
      ? { id: runner.id, description: runner.description, runner_type: runner.runnerType }
      : null,
    // GitLab's artifact fields: the archive, every file (reports too), and when the archive expires.
    ...(archive ? { artifacts_file: { filename: archive.fileName, size: archive.size } } : {}),
    artifacts: files.map((file) => ({
      file_type: file.fileType,
      size: file.size,
      filename: file.fileName,
      file_format: file.fileFormat,
    })),
    artifacts_expire_at: archive ? iso(archive.expireAt) : null,
    web_url: `${coordinator.urls.serverUrl}/${project.pathWithNamespace}/-/jobs/${job.id}`,
  };
}

const jobParams = {
  type: 'object',
  required: ['id', 'job_id'],
  properties: { ...projectParams.properties, job_id: { type: 'integer', minimum: 1, maximum: 2147483647 } },
} as const;

/**
 * `GET /projects/:id/jobs`, `GET /projects/:id/jobs/:job_id`, `GET …/trace` (text),
 * `POST …/cancel|retry|play|erase` (on a protected ref, only for whoever may push to it).
 */
export function registerJobRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;

  const load = async (project: ProjectRecord, jobId: number) => {
    const job = await coordinator.repos.jobs.findById<PlannedJob>(jobId);
    if (!job || job.projectId !== project.id)
      throw new TesseraError('ERR_NOT_FOUND', `job ${jobId} not found`);
    const pipeline = await coordinator.repos.pipelines.findById(job.pipelineId);
    if (!pipeline) throw new TesseraError('ERR_NOT_FOUND', `job ${jobId} not found`);
    return { job, pipeline };
  };

  app.get<{ Params: { id: string }; Querystring: PaginationQuery & { scope?: string | string[] } }>(
    '/api/v4/projects/:id/jobs',
    {
      schema: {
        params: projectParams,
        querystring: { type: 'object', properties: { ...paginationProperties, scope: jobScopeSchema } },
      },
    },
    async (request, reply) => {
      const { project } = await authenticateForProjectCi(context, request, 'jobs');
      const window = pageWindow(request.query);
      const statuses = jobScopeStatuses(request.query.scope);
      const page = await coordinator.repos.jobs.page<PlannedJob>(
        {
          projectId: project.id,
          includeRetried: true,
          // Bridge (trigger:) jobs are listed apart, as GitLab (…/pipelines/:id/bridges).
          bridge: false,
          ...(statuses === undefined ? {} : { statuses }),
        },
        window,
      );
      setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
      const pipelines = new Map<number, PipelineRecord>();
      const out = [];
      for (const job of page.items) {
        let pipeline = pipelines.get(job.pipelineId);
        if (pipeline === undefined) {
          pipeline = await coordinator.repos.pipelines.findById(job.pipelineId);
          if (pipeline === undefined) continue;
          pipelines.set(pipeline.id, pipeline);
        }
        out.push(await renderJob(coordinator, project, pipeline, job));
      }
      return out;
    },
  );

  // GitLab's `GET /job`: a running job's own details, for its job token (the JOB-TOKEN header, or
  // `job_token` in the query string as GitLab also takes it).
  app.get<{ Querystring: { job_token?: string } }>(
    '/api/v4/job',
    {
      schema: {
        querystring: { type: 'object', properties: { job_token: { type: 'string', maxLength: 1024 } } },
      },
    },
    async (request) => {
      const header = request.headers['job-token'];
      const token = typeof header === 'string' && header !== '' ? header : request.query.job_token;
      const job =
        typeof token === 'string' && token !== ''
          ? await coordinator.repos.jobs.findByTokenHash<PlannedJob>(hashSecret(token))
          : undefined;
      if (job === undefined || job.status !== 'running') {
        recordAuthFailure(context, request);
        throw new TesseraError(
          'ERR_JOB_TOKEN_INVALID',
          'this route needs the job token of a running job (JOB-TOKEN header)',
        );
      }
      const project = await coordinator.repos.projects.findById(job.projectId);
      const pipeline = await coordinator.repos.pipelines.findById(job.pipelineId);
      if (!project || !pipeline) throw new TesseraError('ERR_NOT_FOUND', `job ${job.id} not found`);
      return renderJob(coordinator, project, pipeline, job);
    },
  );

  app.get<{ Params: { id: string; job_id: number } }>(
    '/api/v4/projects/:id/jobs/:job_id',
    { schema: { params: jobParams } },
    async (request) => {
      const { project } = await authenticateForProjectCi(context, request, 'jobs');
      const { job, pipeline } = await load(project, request.params.job_id);
      return renderJob(coordinator, project, pipeline, job);
    },
  );

  app.get<{ Params: { id: string; job_id: number } }>(
    '/api/v4/projects/:id/jobs/:job_id/trace',
    { schema: { params: jobParams } },
    async (request, reply) => {
      const { project } = await authenticateForProjectCi(context, request, 'jobs');
      const { job } = await load(project, request.params.job_id);
      return reply.type('text/plain; charset=utf-8').send(await coordinator.repos.jobs.readTrace(job.id));
    },
  );

  for (const action of ['cancel', 'retry', 'play', 'erase'] as const) {
    app.post<{ Params: { id: string; job_id: number } }>(
      `/api/v4/projects/:id/jobs/:job_id/${action}`,
      { schema: { params: jobParams } },
      async (request, reply) => {
        const { user, project, level } = await authenticateForProject(
          context,
          request,
          ACCESS_LEVELS.developer,
        );
        const { job } = await load(project, request.params.job_id);
        let result = job;
        if (action === 'cancel') {
          await checkMayChangeJob(coordinator, project, user, job, 'cancel');
          await cancelJob(coordinator, job);
        } else if (action === 'play') await playJob(coordinator, project, user, job);
        else if (action === 'erase') await eraseJob(coordinator, project, user, level, job);
        else result = await retryJob(coordinator, project, user, job);
        const fresh = await load(project, result.id);
        return reply.status(201).send(await renderJob(coordinator, project, fresh.pipeline, fresh.job));
      },
    );
  }
}
