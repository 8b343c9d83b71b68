import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { ServerContext } from '../server-context.js';

/**
 * `GET /-/health` (the process answers) and `GET /-/readiness` (database and signing keys usable):
 * keys are usable when every lineage with a `current` key can sign with it, which a wrong
 * key-encryption key prevents (503 until the coordinator is restarted with the right one).
 */
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
      const algorithms = await coordinator.keyring.algorithms();
      if (algorithms.length === 0) checks.keys = 'failed';
      // Decrypted once per key, then cached: a ready coordinator answers this from memory.
      for (const alg of algorithms) await coordinator.keyring.signer(alg);
    } catch {
      checks.keys = 'failed';
    }
    const ready = Object.values(checks).every((value) => value === 'ok');
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ok' : 'failed', checks });
  });
}
