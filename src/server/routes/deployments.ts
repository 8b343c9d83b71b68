import type { FastifyInstance } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import type { Coordinator } from '../../coordinator/coordinator.js';
import { createExternalDeployment } from '../../coordinator/create-external-deployment.js';
import { deleteDeployment } from '../../coordinator/delete-deployment.js';
import { updateExternalDeployment } from '../../coordinator/update-external-deployment.js';
import { TesseraError } from '../../errors.js';
import type { PlannedJob } from '../../pipeline/plan.js';
import {
  DEPLOYMENT_STATUSES,
  type DeploymentQuery,
  DeploymentRepository,
  type DeploymentRow,
  EXTERNAL_DEPLOYMENT_STATUSES,
  type ExternalDeploymentStatus,
} from '../../store/repositories/deployments.js';
import type { ProjectRecord } from '../../store/repositories/projects.js';
import { authenticateForProject } from '../authenticate.js';
import {
  type PaginationQuery,
  pageWindow,
  paginationProperties,
  setPaginationHeaders,
} from '../offset-pagination.js';
import { environmentName, iso, projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';
import { renderJob } from './jobs.js';
import { renderUserBasic } from './users.js';

/**
 * GitLab's deployment shape: its job (`deployable`, null for a deployment made through the API),
 * environment, user (the job's, or who made it through the API) and status.
 */
export async function renderDeployment(coordinator: Coordinator, project: ProjectRecord, row: DeploymentRow) {
  const job = row.jobId === null ? undefined : await coordinator.repos.jobs.findById<PlannedJob>(row.jobId);
  const pipeline = job && (await coordinator.repos.pipelines.findById(job.pipelineId));
  const userId = row.jobId === null ? row.userId : (job?.userId ?? null);
  const user = userId === null ? undefined : await coordinator.repos.users.findById(userId);
  return {
    id: row.id,
    iid: row.iid,
    ref: row.ref,
    sha: row.sha,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
    finished_at: iso(row.finishedAt),
    status: row.status,
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

const deploymentParams = {
  type: 'object',
  required: ['id', 'deployment_id'],
  properties: {
    ...projectParams.properties,
    deployment_id: { type: 'integer', minimum: 1, maximum: 2147483647 },
  },
} as const;

const createBody = {
  type: 'object',
  required: ['environment', 'sha', 'ref', 'tag', 'status'],
  properties: {
    environment: environmentName,
    // GitLab checks only that sha and ref are present (an external tool may deploy what it likes).
    sha: { type: 'string', minLength: 1, maxLength: 255 },
    ref: { type: 'string', minLength: 1, maxLength: 255 },
    tag: { type: 'boolean' },
    status: { type: 'string', enum: EXTERNAL_DEPLOYMENT_STATUSES },
  },
} as const;

interface CreateBody {
  environment: string;
  sha: string;
  ref: string;
  tag: boolean;
  status: ExternalDeploymentStatus;
}

/**
 * GitLab's deployments API: `GET /projects/:id/deployments` (filters `environment`, `status`,
 * `updated_after`/`updated_before`; `order_by`, `sort`; offset pagination),
 * `GET /projects/:id/deployments/:deployment_id`, and for deployments made by an external tool
 * (without a job) `POST /projects/:id/deployments` and `PUT …/:deployment_id` (Developer, and the
 * deploy access level of a protected environment); `DELETE …/:deployment_id` (Maintainer) deletes
 * any deployment that is neither running nor its environment's last.
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
    { schema: { params: deploymentParams } },
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

  app.post<{ Params: { id: string }; Body: CreateBody }>(
    '/api/v4/projects/:id/deployments',
    { schema: { params: projectParams, body: createBody } },
    async (request, reply) => {
      const { project, user } = await authenticateForProject(context, request, ACCESS_LEVELS.developer);
      const row = await createExternalDeployment(coordinator, project, user, request.body);
      return reply.status(201).send(await renderDeployment(coordinator, project, row));
    },
  );

  app.put<{ Params: { id: string; deployment_id: number }; Body: { status: ExternalDeploymentStatus } }>(
    '/api/v4/projects/:id/deployments/:deployment_id',
    {
      schema: {
        params: deploymentParams,
        body: {
          type: 'object',
          required: ['status'],
          properties: { status: { type: 'string', enum: EXTERNAL_DEPLOYMENT_STATUSES } },
        },
      },
    },
    async (request) => {
      const { project, user } = await authenticateForProject(context, request, ACCESS_LEVELS.developer);
      const row = await updateExternalDeployment(
        coordinator,
        project,
        user,
        request.params.deployment_id,
        request.body.status,
      );
      return renderDeployment(coordinator, project, row);
    },
  );

  app.delete<{ Params: { id: string; deployment_id: number } }>(
    '/api/v4/projects/:id/deployments/:deployment_id',
    { schema: { params: deploymentParams } },
    async (request, reply) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
      await deleteDeployment(coordinator, project, request.params.deployment_id);
      return reply.status(204).send();
    },
  );
}
