import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { addressAllowed, parseAddressList } from '../../config/address-list.js';
import { hashesEqual, hashSecret } from '../../coordinator/secret-token.js';
import { TesseraError } from '../../errors.js';
import { presentedToken, recordAuthFailure } from '../authenticate.js';
import type { ServerContext } from '../server-context.js';

/**
 * `GET /metrics` in the Prometheus text format: HTTP answers by status class and the token,
 * claim and lease counters of this process, and the jobs and signing keys in the store by state.
 * Counts only; no names, paths or tokens. Answered only to an address of `metricsAllow`
 * (loopback by default) or to a caller presenting `TESSERA_METRICS_TOKEN`; anyone else gets 404.
 */
export function registerMetricsRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;
  const allowed = parseAddressList(coordinator.config.metricsAllow);
  const answers = new Map<string, number>();
  app.addHook('onResponse', async (_request, reply) => {
    const key = `${Math.floor(reply.statusCode / 100)}xx`;
    answers.set(key, (answers.get(key) ?? 0) + 1);
  });

  app.get('/metrics', { logLevel: 'warn' }, async (request, reply) => {
    // GitLab's /-/metrics: an address on the allow-list, or the token; anyone else sees no such page.
    const token = presentedToken(request);
    const byToken =
      token !== undefined &&
      context.metricsTokenHash !== undefined &&
      hashesEqual(hashSecret(token), context.metricsTokenHash);
    if (!byToken && !addressAllowed(allowed, request.socket.remoteAddress)) {
      if (token !== undefined) recordAuthFailure(context, request);
      throw new TesseraError('ERR_NOT_FOUND', 'no route GET /metrics');
    }
    const jobs = await coordinator.store.db
      .selectFrom('jobs')
      .select(['status', sql<number>`count(*)`.as('count')])
      .groupBy('status')
      .execute();
    const keys = await coordinator.keyring.list();
    const lines = [
      '# HELP tessera_http_responses_total HTTP answers by status class.',
      '# TYPE tessera_http_responses_total counter',
      ...[...answers].map(([code, count]) => `tessera_http_responses_total{code="${code}"} ${count}`),
      '# HELP tessera_id_tokens_issued_total ID tokens minted by this process.',
      '# TYPE tessera_id_tokens_issued_total counter',
      ...Object.entries(coordinator.counters.tokensIssued).map(
        ([via, count]) => `tessera_id_tokens_issued_total{issued_via="${via}"} ${count}`,
      ),
      '# HELP tessera_jobs_claimed_total Jobs handed to runners by this process.',
      '# TYPE tessera_jobs_claimed_total counter',
      `tessera_jobs_claimed_total ${coordinator.counters.jobsClaimed}`,
      '# HELP tessera_job_leases_expired_total Running jobs failed because their runner stopped reporting.',
      '# TYPE tessera_job_leases_expired_total counter',
      `tessera_job_leases_expired_total ${coordinator.counters.leasesExpired}`,
      '# HELP tessera_jobs Jobs in the store by status.',
      '# TYPE tessera_jobs gauge',
      ...jobs.map((row) => `tessera_jobs{status="${row.status}"} ${Number(row.count)}`),
      '# HELP tessera_signing_keys Signing keys by algorithm and state.',
      '# TYPE tessera_signing_keys gauge',
      ...Object.entries(
        keys.reduce<Record<string, number>>((counts, key) => {
          const label = `alg="${key.alg}",state="${key.state}"`;
          counts[label] = (counts[label] ?? 0) + 1;
          return counts;
        }, {}),
      ).map(([label, count]) => `tessera_signing_keys{${label}} ${count}`),
    ];
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(`${lines.join('\n')}\n`);
  });
}
