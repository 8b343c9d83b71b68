import type { FastifyInstance } from 'fastify';
import type { SigningAlgorithm } from '../../keys/algorithms.js';
import { renderSigningKey as renderKey } from '../../keys/signing-key-json.js';
import { authenticateAdmin } from '../authenticate.js';
import type { ServerContext } from '../server-context.js';

const kidParams = {
  type: 'object',
  required: ['kid'],
  properties: { kid: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' } },
} as const;

/**
 * Tessera's signing-key administration (admins only; never any key material):
 * `GET /admin/signing_keys`, `POST /admin/signing_keys/rotate {alg, force?}`,
 * `POST /admin/signing_keys/:kid/revoke`.
 */
export function registerAdminRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;

  app.get('/api/v4/admin/signing_keys', async (request) => {
    await authenticateAdmin(context, request);
    return (await coordinator.keyring.list()).map(renderKey);
  });

  app.post<{ Body: { alg?: SigningAlgorithm; force?: boolean } }>(
    '/api/v4/admin/signing_keys/rotate',
    {
      schema: {
        body: {
          type: 'object',
          properties: { alg: { type: 'string', enum: ['RS256', 'ES256'] }, force: { type: 'boolean' } },
        },
      },
    },
    async (request, reply) => {
      await authenticateAdmin(context, request);
      const body = request.body ?? {};
      const result = await coordinator.keyring.rotate(body.alg ?? 'RS256', { force: body.force === true });
      request.log.info(
        { alg: result.alg, current: result.current, next: result.next },
        'signing key rotated',
      );
      return reply.status(201).send(result);
    },
  );

  app.post<{ Params: { kid: string } }>(
    '/api/v4/admin/signing_keys/:kid/revoke',
    { schema: { params: kidParams } },
    async (request) => {
      await authenticateAdmin(context, request);
      const key = await coordinator.keyring.revoke(request.params.kid);
      request.log.warn({ kid: key.kid }, 'signing key revoked');
      return renderKey(key);
    },
  );
}
