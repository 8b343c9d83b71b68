import { TesseraError } from '../errors.js';
import type { SigningAlgorithm } from '../keys/algorithms.js';
import type { PlannedJob } from '../pipeline/plan.js';
import type { JobTokenContext } from '../token/job-token-context.js';
import { describeAudience, refusedAudience } from './allowed-audience.js';
import type { Coordinator } from './coordinator.js';
import { hashSecret } from './secret-token.js';
import { buildTokenContext, lifetimeCap, loadJobRecords } from './token-context.js';

/** One on-demand mint request, as the endpoint received it. */
export interface OnDemandRequest {
  /** The request token (`Authorization: Bearer`). */
  requestToken: string | undefined;
  /** `hashSecret(requestToken)` when the caller has it already (the route hashes it for its rate limit). */
  requestTokenHash?: string;
  audience: string;
  /** Seconds; the instance's `onDemandDefaultLifetime` when absent. */
  lifetime?: number;
  alg?: SigningAlgorithm;
}

/**
 * Contexts of running jobs, kept briefly: minting many tokens in one job (the bench, a job that
 * logs in to several services) should not rebuild the same context from ten queries each time.
 * Two seconds bounds how stale a claim can be; the job's running state is checked on every request.
 */
const CONTEXT_TTL_MS = 2000;
const contexts = new WeakMap<
  Coordinator,
  Map<number, { at: number; context: JobTokenContext; cap: number; allowed: string[] | null }>
>();

/**
 * Mints an ID token on demand for the running job that owns `requestToken` (DESIGN 3.4): the
 * token works only while its job runs, the audience must be in the project's allowed list when
 * it has one, the lifetime is capped by the instance and project maximum.
 *
 * @throws TesseraError `ERR_ID_TOKEN_REQUEST_INVALID` (unknown token, job not running),
 *   `ERR_ID_TOKEN_AUDIENCE_NOT_ALLOWED`, `ERR_TOKEN_LIFETIME_INVALID`, and the token core's errors.
 */
export async function mintOnDemand(
  coordinator: Coordinator,
  request: OnDemandRequest,
): Promise<{ token: string; jobId: number; jti: string }> {
  const invalid = () =>
    new TesseraError(
      'ERR_ID_TOKEN_REQUEST_INVALID',
      'the request token is unknown or its job is no longer running',
    );
  if (!request.requestToken) throw invalid();
  const hash = request.requestTokenHash ?? hashSecret(request.requestToken);
  // The job's state is read on every request, never cached: a token must stop working the moment
  // its job stops running, on every node.
  const found = await coordinator.repos.jobs.findStateByRequestTokenHash(hash);
  if (found?.status !== 'running') throw invalid();
  const now = coordinator.clock();
  let cache = contexts.get(coordinator);
  if (!cache) {
    cache = new Map();
    contexts.set(coordinator, cache);
  }
  let entry = cache.get(found.id);
  if (!entry || now - entry.at > CONTEXT_TTL_MS || now < entry.at) {
    const job = await coordinator.repos.jobs.findById<PlannedJob>(found.id);
    if (job?.status !== 'running') throw invalid();
    const records = await loadJobRecords(coordinator, job);
    entry = {
      at: now,
      context: await buildTokenContext(coordinator, records),
      cap: lifetimeCap(coordinator, records.project),
      allowed: records.project.allowedAudiences,
    };
    if (cache.size > 10_000) cache.clear();
    cache.set(job.id, entry);
  }
  const refused = refusedAudience(entry.allowed, request.audience);
  if (refused !== null) {
    throw new TesseraError(
      'ERR_ID_TOKEN_AUDIENCE_NOT_ALLOWED',
      `the project does not allow tokens for audience ${describeAudience(refused)} (ci_id_token_allowed_audiences)`,
    );
  }
  const lifetime = request.lifetime ?? Math.min(coordinator.config.onDemandDefaultLifetime, entry.cap);
  if (lifetime > entry.cap) {
    const source =
      entry.cap < coordinator.config.tokenMaxLifetime
        ? "the project's ci_id_token_max_lifetime"
        : "the instance's tokenMaxLifetime, TESSERA_TOKEN_MAX_LIFETIME";
    throw new TesseraError(
      'ERR_TOKEN_LIFETIME_INVALID',
      `lifetime ${lifetime} is too long: this job's tokens may live at most ${entry.cap} seconds (${source})`,
      { details: { max: entry.cap } },
    );
  }
  const issued = await coordinator.tokenIssuer.issue({
    context: entry.context,
    audience: request.audience,
    lifetime,
    ...(request.alg ? { alg: request.alg } : {}),
    issuedVia: 'on-demand',
  });
  coordinator.counters.tokensIssued['on-demand'] += 1;
  return { token: issued.token, jobId: found.id, jti: issued.jti };
}
