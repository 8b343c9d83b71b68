import type { FastifyInstance } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import type { Coordinator } from '../../coordinator/coordinator.js';
import { createPipeline } from '../../coordinator/create-pipeline.js';
import { cancelPipeline, checkMayChangeOnRef, retryPipeline } from '../../coordinator/job-actions.js';
import { pipelineCoverage } from '../../coordinator/job-coverage.js';
import { TesseraError } from '../../errors.js';
import type { PlannedJob } from '../../pipeline/plan.js';
import type { PipelineRecord } from '../../store/repositories/pipelines.js';
import type { ProjectRecord } from '../../store/repositories/projects.js';
import { authenticateForProject } from '../authenticate.js';
import { iso, projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';
import { renderJob } from './jobs.js';
import { renderUserBasic } from './users.js';

/** GitLab's pipeline shape. */
export async function renderPipeline(
  coordinator: Coordinator,
  project: ProjectRecord,
  pipeline: PipelineRecord,
) {
  const user = pipeline.userId === null ? undefined : await coordinator.repos.users.findById(pipeline.userId);
  return {
    id: pipeline.id,
    iid: pipeline.iid,
    project_id: pipeline.projectId,
    sha: pipeline.sha,
    ref: pipeline.ref,
    tag: pipeline.refType === 'tag',
    status: pipeline.status,
    source: pipeline.source,
    user: user ? renderUserBasic(user, coordinator.urls.serverUrl) : null,
    created_at: iso(pipeline.createdAt),
    updated_at: iso(pipeline.updatedAt),
    started_at: iso(pipeline.startedAt),
    finished_at: iso(pipeline.finishedAt),
    duration:
      pipeline.startedAt !== null && pipeline.finishedAt !== null
        ? Math.round((pipeline.finishedAt - pipeline.startedAt) / 1000)
        : null,
    coverage: await pipelineCoverage(coordinator.store.db, pipeline.id),
    warnings: pipeline.warnings,
    web_url: `${coordinator.urls.serverUrl}/${project.pathWithNamespace}/-/pipelines/${pipeline.id}`,
  };
}

const refSchema = { type: 'string', minLength: 1, maxLength: 255 } as const;
const pipelineParams = {
  type: 'object',
  required: ['id', 'pid'],
  properties: { ...projectParams.properties, pid: { type: 'integer', minimum: 1, maximum: 2147483647 } },
} as const;

interface PipelineVariableInput {
  key: string;
  value: string;
}

/**
 * `POST /projects/:id/pipeline?ref=` (or `{ref, variables}` in the body), `GET /projects/:id/pipelines[/:pid]`,
 * `GET /projects/:id/pipelines/:pid/jobs`, `POST /projects/:id/pipelines/:pid/cancel|retry` (on a
 * protected ref, only for whoever may push to it).
 */
export function registerPipelineRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;

  const findPipeline = async (project: ProjectRecord, pid: number) => {
    const pipeline = await coordinator.repos.pipelines.findById(pid);
    if (!pipeline || pipeline.projectId !== project.id)
      throw new TesseraError('ERR_NOT_FOUND', `pipeline ${pid} not found`);
    return pipeline;
  };

  app.post<{
    Params: { id: string };
    Querystring: { ref?: string };
    Body: { ref?: string; variables?: PipelineVariableInput[] } | undefined;
  }>(
    '/api/v4/projects/:id/pipeline',
    {
      schema: {
        params: projectParams,
        querystring: { type: 'object', properties: { ref: refSchema } },
        body: {
          type: ['object', 'null'],
          properties: {
            ref: refSchema,
            variables: {
              type: 'array',
              maxItems: 100,
              items: {
                type: 'object',
                required: ['key', 'value'],
                properties: {
                  key: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9_]+$' },
                  value: { type: 'string', maxLength: 65536 },
                  variable_type: { type: 'string', enum: ['env_var', 'file'] },
                },
              },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const { user, project } = await authenticateForProject(context, request, ACCESS_LEVELS.guest);
      const ref = request.query.ref ?? request.body?.ref;
      if (ref === undefined) {
        throw new TesseraError('ERR_VALIDATION', 'query.ref is required (the branch or tag to run)', {
          details: { field: 'query.ref' },
        });
      }
      const variables = Object.fromEntries((request.body?.variables ?? []).map((v) => [v.key, v.value]));
      const pipeline = await createPipeline(coordinator, { project, user, ref, source: 'api', variables });
      return reply.status(201).send(await renderPipeline(coordinator, project, pipeline));
    },
  );

  app.get<{ Params: { id: string }; Querystring: { ref?: string; status?: string; per_page?: number } }>(
    '/api/v4/projects/:id/pipelines',
    {
      schema: {
        params: projectParams,
        querystring: {
          type: 'object',
          properties: {
            ref: refSchema,
            status: { type: 'string', maxLength: 32 },
            per_page: { type: 'integer', minimum: 1, maximum: 100 },
          },
        },
      },
    },
    async (request) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.guest);
      const { ref, status, per_page: perPage = 20 } = request.query;
      const pipelines = (await coordinator.repos.pipelines.listByProject(project.id, 500))
        .filter(
          (pipeline) =>
            (ref === undefined || pipeline.ref === ref) &&
            (status === undefined || pipeline.status === status),
        )
        .slice(0, perPage);
      return Promise.all(pipelines.map((pipeline) => renderPipeline(coordinator, project, pipeline)));
    },
  );

  app.get<{ Params: { id: string; pid: number } }>(
    '/api/v4/projects/:id/pipelines/:pid',
    { schema: { params: pipelineParams } },
    async (request) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.guest);
      return renderPipeline(coordinator, project, await findPipeline(project, request.params.pid));
    },
  );

  app.get<{ Params: { id: string; pid: number }; Querystring: { include_retried?: boolean } }>(
    '/api/v4/projects/:id/pipelines/:pid/jobs',
    {
      schema: {
        params: pipelineParams,
        querystring: { type: 'object', properties: { include_retried: { type: 'boolean' }, scope: {} } },
      },
    },
    async (request) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.guest);
      const pipeline = await findPipeline(project, request.params.pid);
      const jobs = await coordinator.repos.jobs.listByPipeline<PlannedJob>(
        pipeline.id,
        request.query.include_retried !== true,
      );
      return Promise.all(jobs.map((job) => renderJob(coordinator, project, pipeline, job)));
    },
  );

  for (const action of ['cancel', 'retry'] as const) {
    app.post<{ Params: { id: string; pid: number } }>(
      `/api/v4/projects/:id/pipelines/:pid/${action}`,
      { schema: { params: pipelineParams } },
      async (request, reply) => {
        const { user, project } = await authenticateForProject(context, request, ACCESS_LEVELS.developer);
        const pipeline = await findPipeline(project, request.params.pid);
        await checkMayChangeOnRef(coordinator, project, user, pipeline, `${action} pipelines`);
        if (action === 'cancel') await cancelPipeline(coordinator, pipeline.id);
        else await retryPipeline(coordinator, project, user, pipeline.id);
        const updated = await findPipeline(project, pipeline.id);
        return reply.status(201).send(await renderPipeline(coordinator, project, updated));
      },
    );
  }
}
