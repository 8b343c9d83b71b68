import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import { checkMemberChange } from '../../coordinator/member-change.js';
import { requireGroup } from '../../coordinator/permissions.js';
import { TesseraError } from '../../errors.js';
import type { MemberRecord } from '../../store/repositories/members.js';
import type { UserRecord } from '../../store/repositories/users.js';
import { authenticate, authenticateForProject } from '../authenticate.js';
import {
  type PaginationQuery,
  pageWindow,
  paginationProperties,
  setPaginationHeaders,
} from '../offset-pagination.js';
import { accessLevel, idParams, iso, projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';

function renderMember(member: MemberRecord, user: UserRecord) {
  return {
    id: user.id,
    username: user.username,
    name: user.name,
    state: user.state,
    access_level: member.accessLevel,
    created_at: iso(member.createdAt),
    expires_at: null,
  };
}

const listQuery = { type: 'object', properties: paginationProperties } as const;

const levelBody = {
  type: 'object',
  required: ['access_level'],
  properties: { access_level: accessLevel, expires_at: { type: 'string', maxLength: 32 } },
} as const;

const memberBody = {
  type: 'object',
  required: ['user_id', 'access_level'],
  properties: {
    user_id: { type: 'integer', minimum: 1, maximum: 2147483647 },
    access_level: accessLevel,
    expires_at: { type: 'string', maxLength: 32 },
  },
} as const;

const memberParams = {
  type: 'object',
  required: ['id', 'user_id'],
  properties: { ...projectParams.properties, user_id: { type: 'integer', minimum: 1, maximum: 2147483647 } },
} as const;

const groupMemberParams = {
  type: 'object',
  required: ['id', 'user_id'],
  properties: { ...idParams.properties, user_id: { type: 'integer', minimum: 1, maximum: 2147483647 } },
} as const;

/** Where a membership lives, and the role of the caller there. */
interface MemberSource {
  sourceType: 'group' | 'project';
  sourceId: number;
  /** The group whose lineage gives inherited roles (the group itself, or the project's group). */
  groupId: number;
  actor: UserRecord;
  actorLevel: number;
}

/**
 * `/projects/:id/members` and `/groups/:id/members`: `POST` (add, or change an existing member's
 * role), `GET`, `PUT …/:user_id` and `DELETE …/:user_id`. Roles inherit down the group tree.
 * Maintainers manage members; only owners add, change or remove owners, and the last owner stays
 * (see `checkMemberChange`). Anyone may leave (`DELETE` themself), unless they are the last owner.
 */
export function registerMemberRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;

  /** Changes (or, with `newLevel` null, removes) `userId`'s membership once the rules allow it. */
  const change = async (source: MemberSource, userId: number, newLevel: number | null) => {
    const user = await coordinator.repos.users.findById(userId);
    if (!user) throw new TesseraError('ERR_NOT_FOUND', `user ${userId} not found`);
    const existing = await coordinator.repos.members.find(source.sourceType, source.sourceId, userId);
    const leaving = newLevel === null && userId === source.actor.id;
    if (source.actorLevel < ACCESS_LEVELS.maintainer && !leaving) {
      throw new TesseraError(
        'ERR_FORBIDDEN',
        `this needs the maintainer role or higher on the ${source.sourceType}`,
      );
    }
    await checkMemberChange(coordinator, {
      sourceType: source.sourceType,
      sourceId: source.sourceId,
      groupId: source.groupId,
      // Leaving needs no role, but an owner leaving is still an owner change.
      actorLevel: leaving ? Math.max(source.actorLevel, existing?.accessLevel ?? 0) : source.actorLevel,
      userId,
      currentLevel: existing?.accessLevel ?? null,
      newLevel,
    });
    return { user, existing };
  };

  const add = async (source: MemberSource, body: { user_id: number; access_level: number }) => {
    const { user } = await change(source, body.user_id, body.access_level);
    const member = await coordinator.repos.members.upsert({
      sourceType: source.sourceType,
      sourceId: source.sourceId,
      userId: user.id,
      accessLevel: body.access_level,
      createdAt: coordinator.clock(),
    });
    return renderMember(member, user);
  };

  const update = async (source: MemberSource, userId: number, accessLevel: number) => {
    const found = await coordinator.repos.members.find(source.sourceType, source.sourceId, userId);
    if (!found) throw new TesseraError('ERR_NOT_FOUND', `user ${userId} is not a direct member`);
    return add(source, { user_id: userId, access_level: accessLevel });
  };

  const remove = async (source: MemberSource, userId: number) => {
    const { existing } = await change(source, userId, null);
    if (!existing) throw new TesseraError('ERR_NOT_FOUND', `user ${userId} is not a direct member`);
    await coordinator.repos.members.remove(source.sourceType, source.sourceId, userId);
  };

  const list = async (
    request: FastifyRequest<{ Querystring: PaginationQuery }>,
    reply: FastifyReply,
    sourceType: 'group' | 'project',
    sourceId: number,
  ) => {
    const window = pageWindow(request.query);
    const page = await coordinator.repos.members.page(sourceType, sourceId, window);
    setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
    const out = [];
    for (const member of page.items) {
      const user = await coordinator.repos.users.findById(member.userId);
      if (user) out.push(renderMember(member, user));
    }
    return out;
  };

  /** GitLab's `GET …/members/:user_id`: one direct member. */
  const show = async (sourceType: 'group' | 'project', sourceId: number, userId: number) => {
    const member = await coordinator.repos.members.find(sourceType, sourceId, userId);
    const user = member && (await coordinator.repos.users.findById(userId));
    if (!member || !user) throw new TesseraError('ERR_NOT_FOUND', `user ${userId} is not a direct member`);
    return renderMember(member, user);
  };

  const projectSource = async (
    request: FastifyRequest<{ Params: { id: string } }>,
    minimum: number,
  ): Promise<MemberSource> => {
    const { user, project, level } = await authenticateForProject(context, request, minimum);
    return {
      sourceType: 'project',
      sourceId: project.id,
      groupId: project.namespaceId,
      actor: user,
      actorLevel: level,
    };
  };

  const groupSource = async (
    request: FastifyRequest<{ Params: { id: number } }>,
    minimum: number,
  ): Promise<MemberSource> => {
    const user = await authenticate(context, request);
    const { group, level } = await requireGroup(coordinator, user, request.params.id, minimum);
    return { sourceType: 'group', sourceId: group.id, groupId: group.id, actor: user, actorLevel: level };
  };

  app.post<{ Params: { id: string }; Body: { user_id: number; access_level: number } }>(
    '/api/v4/projects/:id/members',
    { schema: { params: projectParams, body: memberBody } },
    async (request, reply) =>
      reply.status(201).send(await add(await projectSource(request, ACCESS_LEVELS.maintainer), request.body)),
  );

  app.get<{ Params: { id: string }; Querystring: PaginationQuery }>(
    '/api/v4/projects/:id/members',
    { schema: { params: projectParams, querystring: listQuery } },
    async (request, reply) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.guest);
      return list(request, reply, 'project', project.id);
    },
  );

  app.get<{ Params: { id: string; user_id: number } }>(
    '/api/v4/projects/:id/members/:user_id',
    { schema: { params: memberParams } },
    async (request) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.guest);
      return show('project', project.id, request.params.user_id);
    },
  );

  app.put<{ Params: { id: string; user_id: number }; Body: { access_level: number } }>(
    '/api/v4/projects/:id/members/:user_id',
    { schema: { params: memberParams, body: levelBody } },
    async (request) =>
      update(
        await projectSource(request, ACCESS_LEVELS.maintainer),
        request.params.user_id,
        request.body.access_level,
      ),
  );

  app.delete<{ Params: { id: string; user_id: number } }>(
    '/api/v4/projects/:id/members/:user_id',
    { schema: { params: memberParams } },
    async (request, reply) => {
      await remove(await projectSource(request, ACCESS_LEVELS.guest), request.params.user_id);
      return reply.status(204).send();
    },
  );

  app.post<{ Params: { id: number }; Body: { user_id: number; access_level: number } }>(
    '/api/v4/groups/:id/members',
    { schema: { params: idParams, body: memberBody } },
    async (request, reply) =>
      reply.status(201).send(await add(await groupSource(request, ACCESS_LEVELS.maintainer), request.body)),
  );

  app.get<{ Params: { id: number }; Querystring: PaginationQuery }>(
    '/api/v4/groups/:id/members',
    { schema: { params: idParams, querystring: listQuery } },
    async (request, reply) => {
      const user = await authenticate(context, request);
      const { group } = await requireGroup(coordinator, user, request.params.id, ACCESS_LEVELS.guest);
      return list(request, reply, 'group', group.id);
    },
  );

  app.get<{ Params: { id: number; user_id: number } }>(
    '/api/v4/groups/:id/members/:user_id',
    { schema: { params: groupMemberParams } },
    async (request) => {
      const user = await authenticate(context, request);
      const { group } = await requireGroup(coordinator, user, request.params.id, ACCESS_LEVELS.guest);
      return show('group', group.id, request.params.user_id);
    },
  );

  app.put<{ Params: { id: number; user_id: number }; Body: { access_level: number } }>(
    '/api/v4/groups/:id/members/:user_id',
    { schema: { params: groupMemberParams, body: levelBody } },
    async (request) =>
      update(
        await groupSource(request, ACCESS_LEVELS.maintainer),
        request.params.user_id,
        request.body.access_level,
      ),
  );

  app.delete<{ Params: { id: number; user_id: number } }>(
    '/api/v4/groups/:id/members/:user_id',
    { schema: { params: groupMemberParams } },
    async (request, reply) => {
      await remove(await groupSource(request, ACCESS_LEVELS.guest), request.params.user_id);
      return reply.status(204).send();
    },
  );
}
