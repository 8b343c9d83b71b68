import type { FastifyInstance } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import { PROCESS_MODES } from '../../coordinator/resource-groups.js';
import { TesseraError } from '../../errors.js';
import type { ResourceGroupsTable } from '../../store/schema.js';
import { authenticateForProject } from '../authenticate.js';
import { iso, projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';

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

/**
 * GitLab's resource groups API: `GET /projects/:id/resource_groups`, `GET …/:key` and
 * `PUT …/:key` (`process_mode`: `unordered`, `oldest_first`, `newest_first`). A group exists once
 * a job of the project has used it.
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
