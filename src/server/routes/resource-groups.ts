import type { FastifyInstance } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import { PROCESS_MODES, upcomingResourceGroupJobs } from '../../coordinator/resource-groups.js';
import { TesseraError } from '../../errors.js';
import type { PlannedJob } from '../../pipeline/plan.js';
import type { PipelineRecord } from '../../store/repositories/pipelines.js';
import type { ResourceGroupsTable } from '../../store/schema.js';
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

type ResourceGroupRow = {
  [K in keyof ResourceGroupsTable]: K extends 'id' ? number : ResourceGroupsTable[K];
};

function renderResourceGroup(group: ResourceGroupRow) {
  return {
    id: group.id,
    key: group.key,
    process_mode: group.processMode,
    created_at: iso(group.createdAt),
    updated_at: iso(group.updatedAt),
  };
}

const keyParams = {
  type: 'object',
  required: ['id', 'key'],
  properties: { ...projectParams.properties, key: { type: 'string', minLength: 1, maxLength: 255 } },
} as const;

/** The fields of GitLab's `Entities::Ci::JobBasic` that Tessera's job shape has. */
const JOB_BASIC_FIELDS = [
  'id',
  'status',
  'stage',
  'name',
  'ref',
  'tag',
  'coverage',
  'allow_failure',
  'created_at',
  'started_at',
  'finished_at',
  'duration',
  'user',
  'pipeline',
  'failure_reason',
  'web_url',
] as const;

/**
 * GitLab's resource groups API: `GET /projects/:id/resource_groups`, `GET …/:key`,
 * `GET …/:key/upcoming_jobs` and `PUT …/:key` (`process_mode`: `unordered`, `oldest_first`,
 * `newest_first`). A group exists once a job of the project has used it.
 */
export function registerResourceGroupRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;
  const db = coordinator.store.db;

  const find = async (projectId: number, key: string) => {
    const group = await db
      .selectFrom('resourceGroups')
      .selectAll()
      .where('projectId', '=', projectId)
      .where('key', '=', key)
      .executeTakeFirst();
    if (!group) throw new TesseraError('ERR_NOT_FOUND', `resource group "${key}" not found`);
    return group;
  };

  app.get<{ Params: { id: string } }>(
    '/api/v4/projects/:id/resource_groups',
    { schema: { params: projectParams } },
    async (request) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.developer);
      const groups = await db
        .selectFrom('resourceGroups')
        .selectAll()
        .where('projectId', '=', project.id)
        .orderBy('id')
        .execute();
      return groups.map(renderResourceGroup);
    },
  );

  app.get<{ Params: { id: string; key: string } }>(
    '/api/v4/projects/:id/resource_groups/:key',
    { schema: { params: keyParams } },
    async (request) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.developer);
      return renderResourceGroup(await find(project.id, request.params.key));
    },
  );

  app.get<{ Params: { id: string; key: string }; Querystring: PaginationQuery }>(
    '/api/v4/projects/:id/resource_groups/:key/upcoming_jobs',
    {
      schema: {
        params: keyParams,
        querystring: { type: 'object', properties: { ...paginationProperties } },
      },
    },
    async (request, reply) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.developer);
      const group = await find(project.id, request.params.key);
      const window = pageWindow(request.query);
      const page = await upcomingResourceGroupJobs(db, group, window);
      setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
      const pipelines = new Map<number, PipelineRecord>();
      const out = [];
      for (const { id } of page.items) {
        const job = await coordinator.repos.jobs.findById<PlannedJob>(id);
        if (job === undefined) continue;
        let pipeline = pipelines.get(job.pipelineId);
        if (pipeline === undefined) {
          pipeline = await coordinator.repos.pipelines.findById(job.pipelineId);
          if (pipeline === undefined) continue;
          pipelines.set(pipeline.id, pipeline);
        }
        const full = await renderJob(coordinator, project, pipeline, job);
        out.push(Object.fromEntries(JOB_BASIC_FIELDS.map((field) => [field, full[field]])));
      }
      return out;
    },
  );

  app.put<{ Params: { id: string; key: string }; Body: { process_mode?: string } }>(
    '/api/v4/projects/:id/resource_groups/:key',
    {
      schema: {
        params: keyParams,
        body: {
          type: 'object',
          properties: { process_mode: { type: 'string', enum: [...PROCESS_MODES] } },
        },
      },
    },
    async (request) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
      const group = await find(project.id, request.params.key);
      const processMode = request.body.process_mode ?? group.processMode;
      const now = coordinator.clock();
      await db
        .updateTable('resourceGroups')
        .set({ processMode, updatedAt: now })
        .where('id', '=', group.id)
        .execute();
      return renderResourceGroup({ ...group, processMode, updatedAt: now });
    },
  );
}
