import type { FastifyInstance } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import type { Coordinator } from '../../coordinator/coordinator.js';
import { TesseraError } from '../../errors.js';
import type { PlannedJob } from '../../pipeline/plan.js';
import {
  DEPLOYMENT_STATUSES,
  type DeploymentQuery,
  DeploymentRepository,
  type DeploymentRow,
  deploymentStatus,
} from '../../store/repositories/deployments.js';
import type { ProjectRecord } from '../../store/repositories/projects.js';
import { authenticateForProject } from '../authenticate.js';
import {
  type PaginationQuery,
  pageWindow,
  paginationProperties,
  setPaginationHeaders,
} from '../offset-pagination.js';
import { iso, projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';
import { renderJob } from './jobs.js';
import { renderUserBasic } from './users.js';

/** GitLab's deployment shape: its job (`deployable`), environment, user and the job's status. */
export async function renderDeployment(coordinator: Coordinator, project: ProjectRecord, row: DeploymentRow) {
  const job = await coordinator.repos.jobs.findById<PlannedJob>(row.jobId);
  const pipeline = job && (await coordinator.repos.pipelines.findById(job.pipelineId));
  const user = job?.userId == null ? undefined : await coordinator.repos.users.findById(job.userId);
  return {
    id: row.id,
    iid: row.iid,
    ref: row.ref,
    sha: row.sha,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
    finished_at: iso(row.finishedAt),
    status: deploymentStatus(row.jobStatus),
    user: user ? renderUserBasic(user, coordinator.urls.serverUrl) : null,
    environment: {
      id: row.environmentId,
      name: row.environmentName,
      external_url: row.environmentExternalUrl,
    },
    deployable: job && pipeline ? await renderJob(coordinator, project, pipeline, job) : null,
  };
}

const listQuery = {
  type: 'object',
  properties: {
    ...paginationProperties,
    order_by: { type: 'string', enum: ['id', 'iid', 'created_at', 'updated_at', 'ref'] },
    sort: { type: 'string', enum: ['asc', 'desc'] },
    updated_after: { type: 'string', format: 'date-time' },
    updated_before: { type: 'string', format: 'date-time' },
    environment: { type: 'string', minLength: 1, maxLength: 255 },
    status: { type: 'string', enum: DEPLOYMENT_STATUSES },
  },
} as const;

type ListQuery = PaginationQuery & {
  order_by?: DeploymentQuery['orderBy'];
  sort?: 'asc' | 'desc';
  updated_after?: string;
  updated_before?: string;
  environment?: string;
  status?: DeploymentQuery['status'];
};

/**
 * GitLab's deployments API, read side: `GET /projects/:id/deployments` (filters `environment`,
 * `status`, `updated_after`/`updated_before`; `order_by`, `sort`; offset pagination) and
 * `GET /projects/:id/deployments/:deployment_id`. Deployments are recorded by deployment jobs;
 * creating or updating them through the API is not offered.
 */
export function registerDeploymentRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;

  app.get<{ Params: { id: string }; Querystring: ListQuery }>(
    '/api/v4/projects/:id/deployments',
    { schema: { params: projectParams, querystring: listQuery } },
    async (request, reply) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.reporter);
      const query = request.query;
      const window = pageWindow(query);
      const page = await new DeploymentRepository(coordinator.store.db).page(
        project.id,
        {
          ...(query.environment === undefined ? {} : { environment: query.environment }),
          ...(query.status === undefined ? {} : { status: query.status }),
          ...(query.updated_after === undefined ? {} : { updatedAfter: Date.parse(query.updated_after) }),
          ...(query.updated_before === undefined ? {} : { updatedBefore: Date.parse(query.updated_before) }),
          ...(query.order_by === undefined ? {} : { orderBy: query.order_by }),
          ...(query.sort === undefined ? {} : { sort: query.sort }),
        },
        window,
      );
      setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
      const rendered = [];
      for (const row of page.items) rendered.push(await renderDeployment(coordinator, project, row));
      return rendered;
    },
  );

  app.get<{ Params: { id: string; deployment_id: number } }>(
    '/api/v4/projects/:id/deployments/:deployment_id',
    {
      schema: {
        params: {
          type: 'object',
          required: ['id', 'deployment_id'],
          properties: {
            ...projectParams.properties,
            deployment_id: { type: 'integer', minimum: 1, maximum: 2147483647 },
          },
        },
      },
    },
    async (request) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.reporter);
      const row = await new DeploymentRepository(coordinator.store.db).findById(
        project.id,
        request.params.deployment_id,
      );
      if (!row)
        throw new TesseraError('ERR_NOT_FOUND', `deployment ${request.params.deployment_id} not found`);
      return renderDeployment(coordinator, project, row);
    },
  );
}
