import type { FastifyInstance } from 'fastify';
import { checkPassword, setUserPassword } from '../../coordinator/password.js';
import { generateSecret, TOKEN_PREFIXES } from '../../coordinator/secret-token.js';
import { TesseraError } from '../../errors.js';
import type { AccessTokenRecord, UserRecord } from '../../store/repositories/users.js';
import { isUniqueViolation } from '../../store/unique-violation.js';
import { authenticate, authenticateAdmin } from '../authenticate.js';
import { displayName, idParams, iso, pathSegment } from '../schemas.js';
import type { ServerContext } from '../server-context.js';

/** GitLab's user shape (the fields we have). */
export function renderUser(user: UserRecord) {
  return {
    id: user.id,
    username: user.username,
    name: user.name,
    state: user.state,
    email: user.email,
    is_admin: user.isAdmin,
    created_at: iso(user.createdAt),
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

const SCOPES = [
  'api',
  'read_api',
  'read_user',
  'read_repository',
  'write_repository',
  'create_runner',
  'sudo',
  'admin_mode',
];

/** `POST /users`, `GET /users`, `GET /users/:id`, `GET /user`, `POST /users/:id/personal_access_tokens`. */
export function registerUserRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;

  app.get('/api/v4/user', async (request) => renderUser(await authenticate(context, request)));

  app.get('/api/v4/users', async (request) => {
    await authenticateAdmin(context, request);
    return (await coordinator.repos.users.list()).map(renderUser);
  });

  app.get<{ Params: { id: number } }>(
    '/api/v4/users/:id',
    { schema: { params: idParams } },
    async (request) => {
      await authenticate(context, request);
      const user = await coordinator.repos.users.findById(request.params.id);
      if (!user) throw new TesseraError('ERR_NOT_FOUND', `user ${request.params.id} not found`);
      return renderUser(user);
    },
  );

  app.post<{ Body: { username: string; email: string; name: string; admin?: boolean; password?: string } }>(
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
          createdAt: coordinator.clock(),
        });
        if (password !== undefined) await setUserPassword(coordinator, user.id, password);
        return reply.status(201).send(renderUser(user));
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
            scopes: { type: 'array', minItems: 1, maxItems: 16, items: { type: 'string', enum: SCOPES } },
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
}
