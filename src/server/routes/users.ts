import type { FastifyInstance, FastifyReply } from 'fastify';
import { generateSecret, TOKEN_PREFIXES } from '../../coordinator/secret-token.js';
import { TesseraError } from '../../errors.js';
import type { AccessTokenRecord, UserRecord } from '../../store/repositories/users.js';
import { isUniqueViolation } from '../../store/unique-violation.js';
import { authenticate, authenticateAdmin, authenticateCaller } from '../authenticate.js';
import {
  type PaginationQuery,
  pageWindow,
  paginationProperties,
  setPaginationHeaders,
} from '../offset-pagination.js';
import { displayName, idParams, iso, pathSegment } from '../schemas.js';
import type { ServerContext } from '../server-context.js';
import { TOKEN_SCOPES } from '../token-scopes.js';

/**
 * GitLab's `UserBasic`: what anyone signed in may see of a user (the users list, a pipeline's or
 * a member's user). Never the email or the admin flag.
 */
export function renderUserBasic(user: UserRecord, serverUrl: string) {
  return {
    id: user.id,
    username: user.username,
    name: user.name,
    state: user.state,
    locked: false,
    avatar_url: null,
    web_url: `${serverUrl}/${user.username}`,
  };
}

/** GitLab's `User`: {@link renderUserBasic} and when the account was made (`GET /users/:id`, a job's user). */
export function renderUserPublic(user: UserRecord, serverUrl: string) {
  return {
    ...renderUserBasic(user, serverUrl),
    created_at: iso(user.createdAt),
    public_email: null,
  };
}

/**
 * The full shape, with the email and the admin flag: for instance admins (GitLab's
 * `UserWithAdmin`) and for the user themself (`GET /user`).
 */
export function renderUserPrivate(user: UserRecord, serverUrl: string) {
  return {
    ...renderUserPublic(user, serverUrl),
    email: user.email,
    is_admin: user.isAdmin,
    can_create_group: user.canCreateGroup,
  };
}

/** GitLab's personal access token shape, without the token. */
function renderAccessToken(token: AccessTokenRecord, now: number) {
  return {
    id: token.id,
    name: token.name,
    revoked: token.revoked,
    created_at: iso(token.createdAt),
    scopes: token.scopes,
    user_id: token.userId,
    last_used_at: iso(token.lastUsedAt),
    active: !token.revoked && (token.expiresAt === null || token.expiresAt > now),
    expires_at: token.expiresAt === null ? null : new Date(token.expiresAt).toISOString().slice(0, 10),
  };
}

/**
 * `POST /users`, `GET /users`, `GET /users/:id`, `GET /user`, `POST /users/:id/personal_access_tokens`,
 * `DELETE /personal_access_tokens/self` and `DELETE /personal_access_tokens/:id` (revoke).
 */
export function registerUserRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;

  app.get('/api/v4/user', async (request) =>
    renderUserPrivate(await authenticate(context, request), coordinator.urls.serverUrl),
  );

  // GitLab lists users to everyone signed in, in the basic shape; admins see the full one.
  app.get<{
    Querystring: PaginationQuery & {
      search?: string;
      username?: string;
      active?: boolean;
      blocked?: boolean;
      order_by?: 'id' | 'username' | 'name' | 'created_at';
      sort?: 'asc' | 'desc';
    };
  }>(
    '/api/v4/users',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            ...paginationProperties,
            search: { type: 'string', maxLength: 255 },
            username: { type: 'string', maxLength: 255 },
            active: { type: 'boolean' },
            blocked: { type: 'boolean' },
            order_by: { type: 'string', enum: ['id', 'username', 'name', 'created_at'] },
            sort: { type: 'string', enum: ['asc', 'desc'] },
          },
        },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(context, request);
      const render = caller.isAdmin ? renderUserPrivate : renderUserBasic;
      const query = request.query;
      const window = pageWindow(query);
      const orderBy = query.order_by ?? 'id';
      const page = await coordinator.repos.users.page(
        {
          ...(query.search === undefined ? {} : { search: query.search }),
          ...(query.username === undefined ? {} : { username: query.username }),
          ...(query.active === undefined ? {} : { active: query.active }),
          ...(query.blocked === undefined ? {} : { blocked: query.blocked }),
          orderBy: orderBy === 'created_at' ? 'createdAt' : orderBy,
          // GitLab's default is id desc; Tessera keeps its oldest-first order unless told.
          sort: query.sort ?? 'asc',
        },
        window,
      );
      setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
      return page.items.map((user) => render(user, coordinator.urls.serverUrl));
    },
  );

  app.get<{ Params: { id: number } }>(
    '/api/v4/users/:id',
    { schema: { params: idParams } },
    async (request) => {
      const caller = await authenticate(context, request);
      const user = await coordinator.repos.users.findById(request.params.id);
      if (!user) throw new TesseraError('ERR_NOT_FOUND', `user ${request.params.id} not found`);
      return caller.isAdmin || caller.id === user.id
        ? renderUserPrivate(user, coordinator.urls.serverUrl)
        : renderUserPublic(user, coordinator.urls.serverUrl);
    },
  );

  app.post<{
    Body: { username: string; email: string; name: string; admin?: boolean; can_create_group?: boolean };
  }>(
    '/api/v4/users',
    {
      schema: {
        body: {
          type: 'object',
          required: ['username', 'email', 'name'],
          properties: {
            username: pathSegment,
            email: { type: 'string', minLength: 3, maxLength: 255, pattern: '^[^@\\s]+@[^@\\s]+$' },
            name: displayName,
            admin: { type: 'boolean' },
            can_create_group: { type: 'boolean' },
            password: { type: 'string', maxLength: 1024 },
            skip_confirmation: { type: 'boolean' },
          },
        },
      },
    },
    async (request, reply) => {
      await authenticateAdmin(context, request);
      const { username, email, name, admin } = request.body;
      try {
        const user = await coordinator.repos.users.create({
          username,
          email,
          name,
          isAdmin: admin === true,
          // GitLab: a new user may create groups as the instance's default says, unless told otherwise.
          canCreateGroup: request.body.can_create_group ?? coordinator.config.usersCanCreateGroup,
          createdAt: coordinator.clock(),
        });
        return reply.status(201).send(renderUserPrivate(user, coordinator.urls.serverUrl));
      } catch (error) {
        if (isUniqueViolation(error)) throw new TesseraError('ERR_CONFLICT', `username ${username} is taken`);
        throw error;
      }
    },
  );

  app.post<{ Params: { id: number }; Body: { name: string; scopes: string[]; expires_at?: string } }>(
    '/api/v4/users/:id/personal_access_tokens',
    {
      schema: {
        params: idParams,
        body: {
          type: 'object',
          required: ['name', 'scopes'],
          properties: {
            name: displayName,
            scopes: {
              type: 'array',
              minItems: 1,
              maxItems: 16,
              items: { type: 'string', enum: TOKEN_SCOPES },
            },
            expires_at: { type: 'string', format: 'date' },
          },
        },
      },
    },
    async (request, reply) => {
      await authenticateAdmin(context, request);
      const user = await coordinator.repos.users.findById(request.params.id);
      if (!user) throw new TesseraError('ERR_NOT_FOUND', `user ${request.params.id} not found`);
      const now = coordinator.clock();
      const expiresAt = request.body.expires_at ? Date.parse(`${request.body.expires_at}T00:00:00Z`) : null;
      if (expiresAt !== null && expiresAt <= now) {
        throw new TesseraError('ERR_VALIDATION', 'body.expires_at must be a future date', {
          details: { field: 'body.expires_at' },
        });
      }
      const secret = generateSecret(TOKEN_PREFIXES.personalAccess);
      const token = await coordinator.repos.users.createAccessToken({
        userId: user.id,
        name: request.body.name,
        scopes: [...new Set(request.body.scopes)],
        tokenHash: secret.hash,
        createdAt: now,
        expiresAt,
      });
      return reply.status(201).send({ ...renderAccessToken(token, now), token: secret.value });
    },
  );

  const revoke = async (token: AccessTokenRecord, reply: FastifyReply) => {
    await coordinator.repos.users.revokeAccessToken(token.id);
    return reply.status(204).send();
  };

  app.delete('/api/v4/personal_access_tokens/self', async (request, reply) =>
    revoke((await authenticateCaller(context, request)).token, reply),
  );

  app.delete<{ Params: { id: number } }>(
    '/api/v4/personal_access_tokens/:id',
    { schema: { params: idParams } },
    async (request, reply) => {
      const caller = await authenticate(context, request);
      const token = await coordinator.repos.users.findAccessTokenById(request.params.id);
      // Someone else's token is not revealed to a non-admin: it does not exist for them.
      if (!token || (token.userId !== caller.id && !caller.isAdmin)) {
        throw new TesseraError('ERR_NOT_FOUND', `personal access token ${request.params.id} not found`);
      }
      return revoke(token, reply);
    },
  );
}
