import type { FastifyInstance } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import { createGroup } from '../../coordinator/create-group.js';
import { deleteGroup } from '../../coordinator/delete-group.js';
import { requireGroup } from '../../coordinator/permissions.js';
import { TesseraError } from '../../errors.js';
import type { GroupRecord } from '../../store/repositories/groups.js';
import { authenticate } from '../authenticate.js';
import {
  type PaginationQuery,
  pageWindow,
  paginationProperties,
  setPaginationHeaders,
} from '../offset-pagination.js';
import { accessLevel, displayName, idParams, iso, pathSegment, visibility } from '../schemas.js';
import type { ServerContext } from '../server-context.js';

const VISIBILITY_RANK: Readonly<Record<string, number>> = { private: 0, internal: 1, public: 2 };

/** GitLab's group shape. */
export function renderGroup(group: GroupRecord, serverUrl: string) {
  return {
    id: group.id,
    name: group.name,
    path: group.path,
    full_path: group.fullPath,
    full_name: group.fullPath.split('/').join(' / '),
    parent_id: group.parentId,
    visibility: group.visibility,
    created_at: iso(group.createdAt),
    web_url: `${serverUrl}/groups/${group.fullPath}`,
  };
}

/** `POST /groups`, `GET /groups`, `GET /groups/:id`. */
export function registerGroupRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;

  app.post<{ Body: { name: string; path: string; parent_id?: number; visibility?: string } }>(
    '/api/v4/groups',
    {
      schema: {
        body: {
          type: 'object',
          required: ['name', 'path'],
          properties: {
            name: displayName,
            path: pathSegment,
            parent_id: { type: 'integer', minimum: 1, maximum: 2147483647 },
            visibility,
            description: { type: 'string', maxLength: 2000 },
          },
        },
      },
    },
    async (request, reply) => {
      const user = await authenticate(context, request);
      const { name, path, parent_id: parentId } = request.body;
      // GitLab: a top-level group needs the user's can_create_group (administrators always may).
      if (parentId === undefined && !user.isAdmin && !user.canCreateGroup) {
        throw new TesseraError(
          'ERR_FORBIDDEN',
          'you may not create top-level groups on this instance; ask an administrator, or create a subgroup',
        );
      }
      // Subgroups need Maintainer on the parent, as GitLab's default.
      const parent =
        parentId === undefined
          ? undefined
          : (await requireGroup(coordinator, user, parentId, ACCESS_LEVELS.maintainer)).group;
      const group = await createGroup(coordinator, user, {
        name,
        path,
        ...(parent ? { parent } : {}),
        ...(request.body.visibility === undefined ? {} : { visibility: request.body.visibility }),
      });
      return reply.status(201).send(renderGroup(group, coordinator.urls.serverUrl));
    },
  );

  app.get<{
    Querystring: PaginationQuery & {
      search?: string;
      owned?: boolean;
      min_access_level?: number;
      order_by?: 'id' | 'name' | 'path';
      sort?: 'asc' | 'desc';
    };
  }>(
    '/api/v4/groups',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            ...paginationProperties,
            search: { type: 'string', maxLength: 255 },
            owned: { type: 'boolean' },
            min_access_level: accessLevel,
            order_by: { type: 'string', enum: ['id', 'name', 'path'] },
            sort: { type: 'string', enum: ['asc', 'desc'] },
          },
        },
      },
    },
    async (request, reply) => {
      const user = await authenticate(context, request);
      const query = request.query;
      const window = pageWindow(query);
      const minimumLevel = query.owned ? ACCESS_LEVELS.owner : query.min_access_level;
      const page = await coordinator.repos.groups.page(
        {
          ...(user.isAdmin ? {} : { visibleTo: user.id }),
          ...(minimumLevel === undefined ? {} : { memberOf: { userId: user.id, minimumLevel } }),
          ...(query.search === undefined ? {} : { search: query.search }),
          // GitLab orders groups by name unless told.
          orderBy: query.order_by ?? 'name',
          sort: query.sort ?? 'asc',
        },
        window,
      );
      setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
      return page.items.map((group) => renderGroup(group, coordinator.urls.serverUrl));
    },
  );

  app.put<{ Params: { id: number }; Body: { name?: string; visibility?: string; description?: string } }>(
    '/api/v4/groups/:id',
    {
      schema: {
        params: idParams,
        body: {
          type: 'object',
          properties: { name: displayName, visibility, description: { type: 'string', maxLength: 2000 } },
        },
      },
    },
    async (request) => {
      const user = await authenticate(context, request);
      // GitLab: Owners change a group's settings.
      const { group } = await requireGroup(coordinator, user, request.params.id, ACCESS_LEVELS.owner);
      const body = request.body ?? {};
      if (body.visibility !== undefined) await checkGroupVisibility(group, body.visibility);
      const changed = await coordinator.repos.groups.update(group.id, {
        ...(body.name === undefined ? {} : { name: body.name }),
        ...(body.visibility === undefined ? {} : { visibility: body.visibility }),
      });
      return renderGroup(changed ?? group, coordinator.urls.serverUrl);
    },
  );

  app.delete<{ Params: { id: number } }>(
    '/api/v4/groups/:id',
    { schema: { params: idParams } },
    async (request, reply) => {
      const user = await authenticate(context, request);
      const { group } = await requireGroup(coordinator, user, request.params.id, ACCESS_LEVELS.owner);
      await deleteGroup(coordinator, group.id);
      // GitLab answers 202: its deletion runs in the background; Tessera's is done already.
      return reply.status(202).send({ message: '202 Accepted' });
    },
  );

  /**
   * GitLab's rule: a group is never more visible than its parent, nor less visible than any of its
   * subgroups or projects.
   */
  const checkGroupVisibility = async (group: GroupRecord, wanted: string) => {
    const rank = (value: string) => VISIBILITY_RANK[value] ?? 0;
    const parent =
      group.parentId === null ? undefined : await coordinator.repos.groups.findById(group.parentId);
    if (parent && rank(wanted) > rank(parent.visibility)) {
      throw new TesseraError(
        'ERR_VALIDATION',
        `body.visibility cannot be ${wanted}: the parent group is ${parent.visibility}`,
        {
          details: { field: 'body.visibility' },
        },
      );
    }
    const widest = await coordinator.repos.groups.widestVisibilityBelow(group);
    if (widest.some((value) => rank(value) > rank(wanted))) {
      throw new TesseraError(
        'ERR_VALIDATION',
        `body.visibility cannot be ${wanted}: a subgroup or project of the group is more visible`,
        { details: { field: 'body.visibility' } },
      );
    }
  };

  app.get<{ Params: { id: number } }>(
    '/api/v4/groups/:id',
    { schema: { params: idParams } },
    async (request) => {
      const user = await authenticate(context, request);
      const { group } = await requireGroup(coordinator, user, request.params.id, 0);
      return renderGroup(group, coordinator.urls.serverUrl);
    },
  );
}
