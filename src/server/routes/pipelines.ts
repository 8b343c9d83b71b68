import type { FastifyInstance } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import type { Coordinator } from '../../coordinator/coordinator.js';
import { createPipeline } from '../../coordinator/create-pipeline.js';
import { deletePipeline } from '../../coordinator/delete-pipeline.js';
import { cancelPipeline, checkMayChangeOnRef, retryPipeline } from '../../coordinator/job-actions.js';
import { pipelineCoverage } from '../../coordinator/job-coverage.js';
import { projectAccessLevel } from '../../coordinator/permissions.js';
import { TesseraError } from '../../errors.js';
import { MAX_PIPELINE_INPUTS } from '../../pipeline/pipeline-inputs.js';
import type { PlannedJob } from '../../pipeline/plan.js';
import type { PipelineRecord } from '../../store/repositories/pipelines.js';
import type { ProjectRecord } from '../../store/repositories/projects.js';
import { authenticateForProject, authenticateForProjectCi } from '../authenticate.js';
import {
  type PaginationQuery,
  pageWindow,
  paginationProperties,
  setPaginationHeaders,
} from '../offset-pagination.js';
import { iso, projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';
import { jobScopeSchema, jobScopeStatuses, renderJob } from './jobs.js';
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

/** GitLab's pipeline `scope`: a set of statuses, or branch or tag pipelines. */
const PIPELINE_SCOPES = {
  running: { statuses: ['running'] },
  pending: { statuses: ['pending'] },
  finished: { statuses: ['success', 'failed', 'canceled', 'skipped'] },
  branches: { refType: 'branch' },
  tags: { refType: 'tag' },
} as const satisfies Record<string, { statuses: readonly string[] } | { refType: 'branch' | 'tag' }>;

const PIPELINE_ORDERS = {
  id: 'id',
  status: 'status',
  ref: 'ref',
  updated_at: 'updatedAt',
  user_id: 'userId',
} as const;

const PIPELINE_STATUSES = [
  'created',
  'waiting_for_resource',
  'preparing',
  'pending',
  'running',
  'success',
  'failed',
  'canceled',
  'skipped',
  'manual',
  'scheduled',
] as const;

/** GitLab's filters of `GET /projects/:id/pipelines`. */
interface PipelineListQuery extends PaginationQuery {
  scope?: keyof typeof PIPELINE_SCOPES;
  status?: string;
  ref?: string;
  sha?: string;
  source?: string;
  username?: string;
  updated_after?: string;
  updated_before?: string;
  order_by?: keyof typeof PIPELINE_ORDERS;
  sort?: 'asc' | 'desc';
}

const pipelineListQuery = {
  type: 'object',
  properties: {
    ...paginationProperties,
    scope: { type: 'string', enum: Object.keys(PIPELINE_SCOPES) },
    status: { type: 'string', enum: PIPELINE_STATUSES },
    ref: refSchema,
    sha: { type: 'string', minLength: 1, maxLength: 64 },
    source: { type: 'string', maxLength: 64 },
    username: { type: 'string', maxLength: 255 },
    updated_after: { type: 'string', format: 'date-time' },
    updated_before: { type: 'string', format: 'date-time' },
    order_by: { type: 'string', enum: Object.keys(PIPELINE_ORDERS) },
    sort: { type: 'string', enum: ['asc', 'desc'] },
  },
} as const;

interface PipelineVariableInput {
  key: string;
  value: string;
}

/**
 * `POST /projects/:id/pipeline?ref=` (or `{ref, variables, inputs}` in the body), `GET /projects/:id/pipelines[/:pid]`,
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
    Body: { ref?: string; variables?: PipelineVariableInput[]; inputs?: Record<string, unknown> } | undefined;
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
            // GitLab's pipeline inputs: checked against the configuration's spec:inputs.
            inputs: {
              type: 'object',
              maxProperties: MAX_PIPELINE_INPUTS,
              propertyNames: { pattern: '^[A-Za-z0-9_-]{1,255}$' },
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
      const inputs = request.body?.inputs;
      const pipeline = await createPipeline(coordinator, {
        project,
        user,
        ref,
        source: 'api',
        variables,
        ...(inputs === undefined ? {} : { inputs }),
      });
      return reply.status(201).send(await renderPipeline(coordinator, project, pipeline));
    },
  );

  app.get<{ Params: { id: string }; Querystring: PipelineListQuery }>(
    '/api/v4/projects/:id/pipelines',
    { schema: { params: projectParams, querystring: pipelineListQuery } },
    async (request, reply) => {
      const { project } = await authenticateForProjectCi(context, request, 'jobs');
      const query = request.query;
      const window = pageWindow(query);
      let userId: number | undefined;
      if (query.username !== undefined)
        userId = (await coordinator.repos.users.findByUsername(query.username))?.id ?? -1;
      const scope: { statuses?: readonly string[]; refType?: 'branch' | 'tag' } =
        query.scope === undefined ? {} : PIPELINE_SCOPES[query.scope];
      // `scope` and `status` together: the statuses both allow.
      const statuses =
        scope.statuses === undefined
          ? query.status === undefined
            ? undefined
            : [query.status]
          : scope.statuses.filter((status) => query.status === undefined || status === query.status);
      const page = await coordinator.repos.pipelines.page(
        {
          projectId: project.id,
          ...(statuses === undefined ? {} : { statuses }),
          ...(scope.refType === undefined ? {} : { refType: scope.refType }),
          ...(query.ref === undefined ? {} : { ref: query.ref }),
          ...(query.sha === undefined ? {} : { sha: query.sha }),
          ...(query.source === undefined ? {} : { source: query.source }),
          ...(userId === undefined ? {} : { userId }),
          ...(query.updated_after === undefined ? {} : { updatedAfter: Date.parse(query.updated_after) }),
          ...(query.updated_before === undefined ? {} : { updatedBefore: Date.parse(query.updated_before) }),
          orderBy: PIPELINE_ORDERS[query.order_by ?? 'id'],
          sort: query.sort ?? 'desc',
        },
        window,
      );
      setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
      return Promise.all(page.items.map((pipeline) => renderPipeline(coordinator, project, pipeline)));
    },
  );

  app.get<{ Params: { id: string }; Querystring: { ref?: string } }>(
    '/api/v4/projects/:id/pipelines/latest',
    {
      schema: {
        params: projectParams,
        querystring: { type: 'object', additionalProperties: false, properties: { ref: refSchema } },
      },
    },
    async (request) => {
      const { project } = await authenticateForProjectCi(context, request, 'pipelines');
      // GitLab: the latest pipeline of the default branch unless `ref` names another.
      const ref = request.query.ref ?? project.defaultBranch;
      const pipeline = await coordinator.repos.pipelines.latest(project.id, ref);
      if (!pipeline) throw new TesseraError('ERR_NOT_FOUND', `no pipeline on ${ref}`);
      return renderPipeline(coordinator, project, pipeline);
    },
  );

  app.delete<{ Params: { id: string; pid: number } }>(
    '/api/v4/projects/:id/pipelines/:pid',
    { schema: { params: pipelineParams } },
    async (request, reply) => {
      // GitLab: only Owners delete pipelines (the logs and the record go with them).
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.owner);
      const pipeline = await findPipeline(project, request.params.pid);
      await deletePipeline(coordinator, pipeline.id);
      return reply.status(204).send();
    },
  );

  app.get<{ Params: { id: string; pid: number } }>(
    '/api/v4/projects/:id/pipelines/:pid/variables',
    { schema: { params: pipelineParams } },
    async (request) => {
      // GitLab shows a pipeline's variables to whoever may see its jobs' details: Developers.
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.developer);
      const pipeline = await findPipeline(project, request.params.pid);
      return Object.entries(pipeline.apiVariables).map(([key, value]) => ({
        key,
        value,
        variable_type: 'env_var',
      }));
    },
  );

  app.get<{ Params: { id: string; pid: number } }>(
    '/api/v4/projects/:id/pipelines/:pid',
    { schema: { params: pipelineParams } },
    async (request) => {
      const { project } = await authenticateForProjectCi(context, request, 'pipelines');
      return renderPipeline(coordinator, project, await findPipeline(project, request.params.pid));
    },
  );

  app.get<{
    Params: { id: string; pid: number };
    Querystring: PaginationQuery & { include_retried?: boolean; scope?: string | string[] };
  }>(
    '/api/v4/projects/:id/pipelines/:pid/jobs',
    {
      schema: {
        params: pipelineParams,
        querystring: {
          type: 'object',
          properties: {
            ...paginationProperties,
            include_retried: { type: 'boolean' },
            scope: jobScopeSchema,
          },
        },
      },
    },
    async (request, reply) => {
      const { project } = await authenticateForProjectCi(context, request, 'jobs');
      const pipeline = await findPipeline(project, request.params.pid);
      const window = pageWindow(request.query);
      const statuses = jobScopeStatuses(request.query.scope);
      const page = await coordinator.repos.jobs.page<PlannedJob>(
        {
          projectId: project.id,
          pipelineId: pipeline.id,
          includeRetried: request.query.include_retried === true,
          bridge: false,
          ...(statuses === undefined ? {} : { statuses }),
        },
        window,
      );
      setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
      return Promise.all(page.items.map((job) => renderJob(coordinator, project, pipeline, job)));
    },
  );

  // GitLab's bridges: a pipeline's trigger jobs, each with the pipeline it created.
  app.get<{
    Params: { id: string; pid: number };
    Querystring: PaginationQuery & { scope?: string | string[] };
  }>(
    '/api/v4/projects/:id/pipelines/:pid/bridges',
    {
      schema: {
        params: pipelineParams,
        querystring: { type: 'object', properties: { ...paginationProperties, scope: jobScopeSchema } },
      },
    },
    async (request, reply) => {
      const { user, project } = await authenticateForProjectCi(context, request, 'jobs');
      const pipeline = await findPipeline(project, request.params.pid);
      const window = pageWindow(request.query);
      const statuses = jobScopeStatuses(request.query.scope);
      const page = await coordinator.repos.jobs.page<PlannedJob>(
        {
          projectId: project.id,
          pipelineId: pipeline.id,
          includeRetried: false,
          bridge: true,
          ...(statuses === undefined ? {} : { statuses }),
        },
        window,
      );
      setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
      return Promise.all(
        page.items.map(async (job) => {
          const downstream = await coordinator.repos.pipelines.findBySourceJob(job.id);
          const downstreamProject =
            downstream && (await coordinator.repos.projects.findById(downstream.projectId));
          // Another project's pipeline is shown only to whoever may see that project.
          const visible =
            downstreamProject !== undefined &&
            (downstreamProject.id === project.id ||
              user.isAdmin ||
              downstreamProject.visibility !== 'private' ||
              (await projectAccessLevel(coordinator, user.id, downstreamProject)) !== null);
          return {
            ...(await renderJob(coordinator, project, pipeline, job)),
            downstream_pipeline:
              downstream && downstreamProject && visible
                ? {
                    id: downstream.id,
                    iid: downstream.iid,
                    project_id: downstream.projectId,
                    sha: downstream.sha,
                    ref: downstream.ref,
                    status: downstream.status,
                    source: downstream.source,
                    created_at: iso(downstream.createdAt),
                    updated_at: iso(downstream.updatedAt),
                    web_url: `${coordinator.urls.serverUrl}/${downstreamProject.pathWithNamespace}/-/pipelines/${downstream.id}`,
                  }
                : null,
          };
        }),
      );
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
