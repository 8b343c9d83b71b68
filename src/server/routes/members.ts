import type { FastifyInstance } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import { requireGroup } from '../../coordinator/permissions.js';
import { TesseraError } from '../../errors.js';
import type { MemberRecord } from '../../store/repositories/members.js';
import type { UserRecord } from '../../store/repositories/users.js';
import { authenticate, authenticateForProject } from '../authenticate.js';
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

const memberBody = {
  type: 'object',
  required: ['user_id', 'access_level'],
  properties: {
    user_id: { type: 'integer', minimum: 1, maximum: 2147483647 },
    access_level: accessLevel,
    expires_at: { type: 'string', maxLength: 32 },
  },
} as const;

/** `POST`/`GET` `/projects/:id/members` and `/groups/:id/members` (roles inherit down the group tree). */
export function registerMemberRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;

  const add = async (
    sourceType: 'group' | 'project',
    sourceId: number,
    body: { user_id: number; access_level: number },
    actorLevel: number,
  ) => {
    // Maintainers manage members; only owners grant the owner role (GitLab's rule).
    if (body.access_level === ACCESS_LEVELS.owner && actorLevel < ACCESS_LEVELS.owner) {
      throw new TesseraError('ERR_FORBIDDEN', 'only an owner can grant the owner role');
    }
    const user = await coordinator.repos.users.findById(body.user_id);
    if (!user) throw new TesseraError('ERR_NOT_FOUND', `user ${body.user_id} not found`);
    const member = await coordinator.repos.members.upsert({
      sourceType,
      sourceId,
      userId: user.id,
      accessLevel: body.access_level,
      createdAt: coordinator.clock(),
    });
    return renderMember(member, user);
  };

  const list = async (sourceType: 'group' | 'project', sourceId: number) => {
    const out = [];
    for (const member of await coordinator.repos.members.list(sourceType, sourceId)) {
      const user = await coordinator.repos.users.findById(member.userId);
      if (user) out.push(renderMember(member, user));
    }
    return out;
  };

  app.post<{ Params: { id: string }; Body: { user_id: number; access_level: number } }>(
    '/api/v4/projects/:id/members',
    { schema: { params: projectParams, body: memberBody } },
    async (request, reply) => {
      const { project, level } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
      return reply.status(201).send(await add('project', project.id, request.body, level));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v4/projects/:id/members',
    { schema: { params: projectParams } },
    async (request) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.guest);
      return list('project', project.id);
    },
  );

  app.post<{ Params: { id: number }; Body: { user_id: number; access_level: number } }>(
    '/api/v4/groups/:id/members',
    { schema: { params: idParams, body: memberBody } },
    async (request, reply) => {
      const user = await authenticate(context, request);
      const { group, level } = await requireGroup(
        coordinator,
        user,
        request.params.id,
        ACCESS_LEVELS.maintainer,
      );
      return reply.status(201).send(await add('group', group.id, request.body, level));
    },
  );

  app.get<{ Params: { id: number } }>(
    '/api/v4/groups/:id/members',
    { schema: { params: idParams } },
    async (request) => {
      const user = await authenticate(context, request);
      const { group } = await requireGroup(coordinator, user, request.params.id, ACCESS_LEVELS.guest);
      return list('group', group.id);
    },
  );
}
