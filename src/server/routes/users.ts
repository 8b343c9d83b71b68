import type { FastifyInstance, FastifyReply } from 'fastify';
import { deleteUser } from '../../coordinator/delete-user.js';
import { checkPassword, setUserPassword } from '../../coordinator/password.js';
import { rotateAccessToken } from '../../coordinator/rotate-access-token.js';
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
import { tokenScopesSchema } from '../token-scopes.js';

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
export function renderAccessToken(token: AccessTokenRecord, now: number) {
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
    Body: {
      username: string;
      email: string;
      name: string;
      admin?: boolean;
      can_create_group?: boolean;
      password?: string;
    };
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
      const { username, email, name, admin, password } = request.body;
      if (password !== undefined) checkPassword(password);
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
        if (password !== undefined) await setUserPassword(coordinator, user.id, password);
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
            scopes: tokenScopesSchema,
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

  app.put<{
    Params: { id: number };
    Body: {
      username?: string;
      email?: string;
      name?: string;
      admin?: boolean;
      can_create_group?: boolean;
      password?: string;
    };
  }>(
    '/api/v4/users/:id',
    {
      schema: {
        params: idParams,
        body: {
          type: 'object',
          properties: {
            username: pathSegment,
            email: { type: 'string', minLength: 3, maxLength: 255, pattern: '^[^@\\s]+@[^@\\s]+$' },
            name: displayName,
            admin: { type: 'boolean' },
            can_create_group: { type: 'boolean' },
            skip_reconfirmation: { type: 'boolean' },
            // The web UI's sign-in password (src/web), kept as a scrypt hash of its own.
            password: { type: 'string', maxLength: 1024 },
          },
        },
      },
    },
    async (request) => {
      const caller = await authenticateAdmin(context, request);
      const body = request.body ?? {};
      if (body.admin === false && request.params.id === caller.id) {
        throw new TesseraError('ERR_FORBIDDEN', 'an administrator cannot take away their own admin rights');
      }
      if (body.password !== undefined) checkPassword(body.password);
      try {
        const changes = {
          ...(body.username === undefined ? {} : { username: body.username }),
          ...(body.email === undefined ? {} : { email: body.email }),
          ...(body.name === undefined ? {} : { name: body.name }),
          ...(body.admin === undefined ? {} : { isAdmin: body.admin }),
          ...(body.can_create_group === undefined ? {} : { canCreateGroup: body.can_create_group }),
        };
        const user = await coordinator.repos.users.update(request.params.id, changes);
        if (!user) throw new TesseraError('ERR_NOT_FOUND', `user ${request.params.id} not found`);
        if (body.password !== undefined) await setUserPassword(coordinator, user.id, body.password);
        return renderUserPrivate(user, coordinator.urls.serverUrl);
      } catch (error) {
        if (isUniqueViolation(error))
          throw new TesseraError('ERR_CONFLICT', `username ${body.username} is taken`);
        throw error;
      }
    },
  );

  app.delete<{ Params: { id: number } }>(
    '/api/v4/users/:id',
    { schema: { params: idParams } },
    async (request, reply) => {
      const caller = await authenticateAdmin(context, request);
      if (request.params.id === caller.id)
        throw new TesseraError('ERR_FORBIDDEN', 'an administrator cannot delete themself');
      await deleteUser(coordinator, request.params.id);
      return reply.status(204).send();
    },
  );

  // GitLab's block and unblock: a blocked user's tokens stop working (authentication checks the
  // state) until unblocked. Both answer 201 with true, as GitLab does.
  for (const [action, state] of [
    ['block', 'blocked'],
    ['unblock', 'active'],
  ] as const) {
    app.post<{ Params: { id: number } }>(
      `/api/v4/users/:id/${action}`,
      { schema: { params: idParams } },
      async (request, reply) => {
        const caller = await authenticateAdmin(context, request);
        if (request.params.id === caller.id)
          throw new TesseraError('ERR_FORBIDDEN', `an administrator cannot ${action} themself`);
        const user = await coordinator.repos.users.update(request.params.id, { state });
        if (!user) throw new TesseraError('ERR_NOT_FOUND', `user ${request.params.id} not found`);
        return reply.status(201).send(true);
      },
    );
  }

  /** The token `id` for `caller`: their own, or anyone's for an admin; else it does not exist for them. */
  const tokenFor = async (caller: UserRecord, id: number) => {
    const token = await coordinator.repos.users.findAccessTokenById(id);
    if (!token || (token.userId !== caller.id && !caller.isAdmin)) {
      throw new TesseraError('ERR_NOT_FOUND', `personal access token ${id} not found`);
    }
    return token;
  };

  app.get<{
    Querystring: PaginationQuery & { user_id?: number; state?: 'active' | 'inactive'; revoked?: boolean };
  }>(
    '/api/v4/personal_access_tokens',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            ...paginationProperties,
            user_id: { type: 'integer', minimum: 1, maximum: 2147483647 },
            state: { type: 'string', enum: ['active', 'inactive'] },
            revoked: { type: 'boolean' },
          },
        },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(context, request);
      const query = request.query;
      const now = coordinator.clock();
      // GitLab: a user lists their own tokens; an admin everyone's, or one user's with user_id.
      const userId = caller.isAdmin ? query.user_id : caller.id;
      const window = pageWindow(query);
      const page = await coordinator.repos.users.pageAccessTokens(
        {
          now,
          ...(userId === undefined ? {} : { userId }),
          ...(query.state === undefined ? {} : { state: query.state }),
          ...(query.revoked === undefined ? {} : { revoked: query.revoked }),
        },
        window,
      );
      setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
      return page.items.map((token) => renderAccessToken(token, now));
    },
  );

  app.get('/api/v4/personal_access_tokens/self', async (request) =>
    renderAccessToken((await authenticateCaller(context, request)).token, coordinator.clock()),
  );

  app.get<{ Params: { id: number } }>(
    '/api/v4/personal_access_tokens/:id',
    { schema: { params: idParams } },
    async (request) =>
      renderAccessToken(
        await tokenFor(await authenticate(context, request), request.params.id),
        coordinator.clock(),
      ),
  );

  /**
   * GitLab's rotation: the token is revoked and a new one with its name and scopes answered once,
   * expiring on `expires_at` or a week from now. A revoked or expired token cannot be rotated.
   */
  const rotate = async (token: AccessTokenRecord, expiresAtText: string | undefined) => {
    const now = coordinator.clock();
    if (token.revoked || (token.expiresAt !== null && token.expiresAt <= now)) {
      throw new TesseraError(
        'ERR_VALIDATION',
        `personal access token ${token.id} is revoked or expired: create a new one`,
      );
    }
    const expiresAt = expiresAtText
      ? Date.parse(`${expiresAtText}T00:00:00Z`)
      : Date.parse(`${new Date(now + 7 * 86_400_000).toISOString().slice(0, 10)}T00:00:00Z`);
    if (expiresAt <= now) {
      throw new TesseraError('ERR_VALIDATION', 'body.expires_at must be a future date', {
        details: { field: 'body.expires_at' },
      });
    }
    const { rotated, secret } = await rotateAccessToken(coordinator, token, expiresAt, now);
    return { ...renderAccessToken(rotated, now), token: secret };
  };
  const rotateBody = {
    anyOf: [
      { type: 'null' },
      { type: 'object', properties: { expires_at: { type: 'string', format: 'date' } } },
    ],
  } as const;

  app.post<{ Body: { expires_at?: string } | null }>(
    '/api/v4/personal_access_tokens/self/rotate',
    { schema: { body: rotateBody } },
    async (request) =>
      rotate((await authenticateCaller(context, request)).token, request.body?.expires_at ?? undefined),
  );

  app.post<{ Params: { id: number }; Body: { expires_at?: string } | null }>(
    '/api/v4/personal_access_tokens/:id/rotate',
    { schema: { params: idParams, body: rotateBody } },
    async (request) =>
      rotate(
        await tokenFor(await authenticate(context, request), request.params.id),
        request.body?.expires_at ?? undefined,
      ),
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
