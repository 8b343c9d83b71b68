import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { ServerContext } from '../server-context.js';

/** `GET /-/health` (the process answers) and `GET /-/readiness` (database and signing keys usable). */
export function registerHealthRoutes(app: FastifyInstance, { coordinator }: ServerContext): void {
  app.get('/-/health', { logLevel: 'warn' }, async () => ({ status: 'ok' }));
  app.get('/-/readiness', { logLevel: 'warn' }, async (_request, reply) => {
    const checks: Record<string, 'ok' | 'failed'> = { database: 'ok', keys: 'ok' };
    try {
      await sql`select 1`.execute(coordinator.store.db);
    } catch {
      checks.database = 'failed';
    }
    try {
      if ((await coordinator.keyring.algorithms()).length === 0) checks.keys = 'failed';
    } catch {
      checks.keys = 'failed';
    }
    const ready = Object.values(checks).every((value) => value === 'ok');
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ok' : 'failed', checks });
  });
}
