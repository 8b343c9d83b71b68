import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import { requireGroup } from '../../coordinator/permissions.js';
import { rotateAccessToken } from '../../coordinator/rotate-access-token.js';
import { generateSecret, TOKEN_PREFIXES } from '../../coordinator/secret-token.js';
import { TesseraError } from '../../errors.js';
import type { AccessTokenRecord } from '../../store/repositories/users.js';
import { repositories } from '../../store/repositories.js';
import { authenticate, authenticateForProject } from '../authenticate.js';
import {
  type PaginationQuery,
  pageWindow,
  paginationProperties,
  setPaginationHeaders,
} from '../offset-pagination.js';
import { accessLevel, displayName, idParams, projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';
import { tokenScopesSchema } from '../token-scopes.js';
import { renderAccessToken } from './users.js';

/** Where an access token's bot user is a member, and the caller's role there. */
interface TokenSource {
  sourceType: 'group' | 'project';
  sourceId: number;
  callerLevel: number;
}

interface CreateBody {
  name: string;
  scopes: string[];
  access_level?: number;
  expires_at?: string;
}

/** GitLab's project/group access token shape, without the token: a personal one's and its role. */
function renderBotToken(token: AccessTokenRecord & { accessLevel: number }, now: number) {
  return { ...renderAccessToken(token, now), access_level: token.accessLevel };
}

/** GitLab's bot user names: `project_<id>_bot_<random>`, `group_<id>_bot_<random>`. */
function botPrefix(source: TokenSource): string {
  return `${source.sourceType}_${source.sourceId}_bot_`;
}

/**
 * GitLab's project and group access tokens: `/projects/:id/access_tokens` and
 * `/groups/:id/access_tokens` (create, list paged, show, revoke, rotate). Each token belongs to its
 * own bot user (`project_<id>_bot_<random>`), a member of the project or group with the token's
 * `access_level` and nowhere else, so the token reaches nothing beyond it. Maintainers manage them
 * (Owners for a group's, as GitLab) and cannot grant a role above their own.
 */
export function registerAccessTokenRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;

  const expiryOf = (text: string | undefined, now: number): number => {
    // GitLab requires an expiry; without one, a year from today (its default when not enforced).
    const expiresAt = text
      ? Date.parse(`${text}T00:00:00Z`)
      : Date.parse(`${new Date(now + 365 * 86_400_000).toISOString().slice(0, 10)}T00:00:00Z`);
    if (expiresAt <= now) {
      throw new TesseraError('ERR_VALIDATION', 'body.expires_at must be a future date', {
        details: { field: 'body.expires_at' },
      });
    }
    return expiresAt;
  };

  const findToken = async (source: TokenSource, tokenId: number) => {
    const token = await coordinator.repos.users.findAccessTokenById(tokenId);
    const owner = token && (await coordinator.repos.users.findById(token.userId));
    const member =
      owner?.username.startsWith(botPrefix(source)) &&
      (await coordinator.repos.members.find(source.sourceType, source.sourceId, owner.id));
    if (!token || !member) throw new TesseraError('ERR_NOT_FOUND', `access token ${tokenId} not found`);
    return { ...token, accessLevel: member.accessLevel };
  };

  const register = (
    base: string,
    params: typeof projectParams | typeof idParams,
    resolve: (request: FastifyRequest) => Promise<TokenSource>,
  ) => {
    const tokenParams = {
      type: 'object',
      required: ['id', 'token_id'],
      properties: { ...params.properties, token_id: { type: 'integer', minimum: 1, maximum: 2147483647 } },
    } as const;

    app.post<{ Body: CreateBody }>(
      base,
      {
        schema: {
          params,
          body: {
            type: 'object',
            required: ['name', 'scopes'],
            properties: {
              name: displayName,
              scopes: tokenScopesSchema,
              access_level: accessLevel,
              expires_at: { type: 'string', format: 'date' },
            },
          },
        },
      },
      async (request, reply) => {
        const source = await resolve(request);
        const level = request.body.access_level ?? ACCESS_LEVELS.maintainer;
        if (level > source.callerLevel) {
          throw new TesseraError(
            'ERR_FORBIDDEN',
            'an access token cannot have a higher role than its creator',
          );
        }
        const now = coordinator.clock();
        const expiresAt = expiryOf(request.body.expires_at, now);
        const username = `${botPrefix(source)}${randomBytes(4).toString('hex')}`;
        const secret = generateSecret(TOKEN_PREFIXES.personalAccess);
        const token = await coordinator.store.transaction(async (tx) => {
          const repos = repositories(tx);
          const bot = await repos.users.create({
            username,
            email: `${username}@noreply.invalid`,
            name: request.body.name,
            isAdmin: false,
            canCreateGroup: false,
            createdAt: now,
          });
          await repos.members.upsert({
            sourceType: source.sourceType,
            sourceId: source.sourceId,
            userId: bot.id,
            accessLevel: level,
            createdAt: now,
          });
          return repos.users.createAccessToken({
            userId: bot.id,
            name: request.body.name,
            scopes: [...new Set(request.body.scopes)],
            tokenHash: secret.hash,
            createdAt: now,
            expiresAt,
          });
        });
        return reply
          .status(201)
          .send({ ...renderBotToken({ ...token, accessLevel: level }, now), token: secret.value });
      },
    );

    app.get<{ Querystring: PaginationQuery }>(
      base,
      { schema: { params, querystring: { type: 'object', properties: paginationProperties } } },
      async (request, reply) => {
        const source = await resolve(request);
        const window = pageWindow(request.query);
        const page = await coordinator.repos.users.pageBotAccessTokens(
          { ...source, usernamePrefix: botPrefix(source) },
          window,
        );
        setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
        const now = coordinator.clock();
        return page.items.map((token) => renderBotToken(token, now));
      },
    );

    app.get<{ Params: { token_id: number } }>(
      `${base}/:token_id`,
      { schema: { params: tokenParams } },
      async (request) =>
        renderBotToken(await findToken(await resolve(request), request.params.token_id), coordinator.clock()),
    );

    app.delete<{ Params: { token_id: number } }>(
      `${base}/:token_id`,
      { schema: { params: tokenParams } },
      async (request, reply) => {
        const token = await findToken(await resolve(request), request.params.token_id);
        await coordinator.repos.users.revokeAccessToken(token.id);
        return reply.status(204).send();
      },
    );

    app.post<{ Params: { token_id: number }; Body: { expires_at?: string } | null }>(
      `${base}/:token_id/rotate`,
      {
        schema: {
          params: tokenParams,
          body: {
            anyOf: [
              { type: 'null' },
              { type: 'object', properties: { expires_at: { type: 'string', format: 'date' } } },
            ],
          },
        },
      },
      async (request) => {
        const token = await findToken(await resolve(request), request.params.token_id);
        const now = coordinator.clock();
        if (token.revoked || (token.expiresAt !== null && token.expiresAt <= now)) {
          throw new TesseraError(
            'ERR_VALIDATION',
            `access token ${token.id} is revoked or expired: create a new one`,
          );
        }
        const expiresAt = expiryOf(request.body?.expires_at ?? undefined, now);
        const { rotated, secret } = await rotateAccessToken(coordinator, token, expiresAt, now);
        return { ...renderBotToken({ ...rotated, accessLevel: token.accessLevel }, now), token: secret };
      },
    );
  };

  register('/api/v4/projects/:id/access_tokens', projectParams, async (request) => {
    const { project, level } = await authenticateForProject(
      context,
      request as FastifyRequest<{ Params: { id: string } }>,
      ACCESS_LEVELS.maintainer,
    );
    return { sourceType: 'project', sourceId: project.id, callerLevel: level };
  });
  register('/api/v4/groups/:id/access_tokens', idParams, async (request) => {
    const user = await authenticate(context, request);
    const { group, level } = await requireGroup(
      coordinator,
      user,
      (request.params as { id: number }).id,
      ACCESS_LEVELS.owner,
    );
    return { sourceType: 'group', sourceId: group.id, callerLevel: level };
  });
}
