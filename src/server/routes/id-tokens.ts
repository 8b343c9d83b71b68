import type { FastifyInstance } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import { ON_DEMAND_PATH } from '../../coordinator/job-variables.js';
import { mintOnDemand } from '../../coordinator/on-demand-token.js';
import { hashSecret } from '../../coordinator/secret-token.js';
import { TesseraError } from '../../errors.js';
import type { SigningAlgorithm } from '../../keys/algorithms.js';
import { authenticateForProject, recordAuthFailure } from '../authenticate.js';
import { projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';

/**
 * `GET /api/v4/job/id_token?api-version=1&audience=A[&lifetime=S][&alg=ES256]` with
 * `Authorization: Bearer <request token>` answers `{"value": "<jwt>"}` (the protocol of GitHub's
 * toolkit, so `getIDToken()` works unchanged); `GET /projects/:id/id_tokens` is the audit.
 */
export function registerIdTokenRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;

  app.get<{
    Querystring: { audience: string; lifetime?: number; alg?: SigningAlgorithm; 'api-version'?: string };
  }>(
    ON_DEMAND_PATH,
    {
      schema: {
        querystring: {
          type: 'object',
          required: ['audience'],
          properties: {
            'api-version': { type: 'string', maxLength: 16 },
            audience: { type: 'string', minLength: 1, maxLength: 1024 },
            // No tighter maximum here: the cap that applies (instance or project) is checked, and
            // named, where the token is minted.
            lifetime: { type: 'integer', minimum: 1, maximum: 2147483647 },
            alg: { type: 'string', enum: ['RS256', 'ES256'] },
          },
        },
      },
    },
    async (request, reply) => {
      const authorization = request.headers.authorization;
      const requestToken =
        typeof authorization === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1] : undefined;
      // Rate limit per job (the request token identifies it) before any work is done.
      const requestTokenHash = requestToken ? hashSecret(requestToken) : undefined;
      if (requestTokenHash) {
        const limit = context.mintLimiter.hit(requestTokenHash);
        if (!limit.allowed) {
          throw new TesseraError('ERR_RATE_LIMITED', 'too many token requests from this job; retry later', {
            details: { retryAfter: limit.retryAfter },
          });
        }
      }
      try {
        const minted = await mintOnDemand(coordinator, {
          requestToken,
          ...(requestTokenHash ? { requestTokenHash } : {}),
          audience: request.query.audience,
          ...(request.query.lifetime !== undefined ? { lifetime: request.query.lifetime } : {}),
          ...(request.query.alg ? { alg: request.query.alg } : {}),
        });
        reply.header('cache-control', 'no-store');
        return { value: minted.token };
      } catch (error) {
        if (error instanceof TesseraError && error.code === 'ERR_ID_TOKEN_REQUEST_INVALID')
          recordAuthFailure(context, request);
        throw error;
      }
    },
  );

  app.get<{ Params: { id: string }; Querystring: { per_page?: number } }>(
    '/api/v4/projects/:id/id_tokens',
    {
      schema: {
        params: projectParams,
        querystring: {
          type: 'object',
          properties: { per_page: { type: 'integer', minimum: 1, maximum: 1000 } },
        },
      },
    },
    async (request) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
      const records = await coordinator.repos.issuedTokens.listByProject(
        project.id,
        request.query.per_page ?? 100,
      );
      return records.map((record) => ({
        jti: record.jti,
        job_id: record.jobId,
        pipeline_id: record.pipelineId,
        aud: record.aud,
        sub: record.sub,
        kid: record.kid,
        alg: record.alg,
        iat: record.iat,
        exp: record.exp,
        issued_at: new Date(record.iat * 1000).toISOString(),
        expires_at: new Date(record.exp * 1000).toISOString(),
        issued_via: record.issuedVia,
      }));
    },
  );
}
