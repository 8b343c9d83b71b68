import { TesseraError } from '../errors.js';
import type { RunnerRecord } from '../store/repositories/runners.js';
import type { claimJob } from './claim-job.js';
import type { Coordinator } from './coordinator.js';
import { hashesEqual, hashSecret } from './secret-token.js';

/**
 * The runner that owns `token`.
 *
 * @throws TesseraError `ERR_RUNNER_TOKEN_INVALID` (403, as GitLab) for an unknown token.
 */
export async function authenticateRunner(coordinator: Coordinator, token: unknown): Promise<RunnerRecord> {
  if (typeof token !== 'string' || token === '') {
    throw new TesseraError('ERR_RUNNER_TOKEN_INVALID', 'a runner token is required');
  }
  const hash = hashSecret(token);
  const found = await coordinator.repos.runners.findByTokenHash(hash);
  if (!found || !hashesEqual(found.storedHash, hash)) {
    throw new TesseraError(
      'ERR_RUNNER_TOKEN_INVALID',
      'the runner token is unknown; register the runner again',
    );
  }
  return found.runner;
}

/**
 * Runner tokens a node has checked lately, for `POST /jobs/request` only: a runner asks for work
 * every few seconds per worker, and looking its token up each time was a statement per request.
 * An entry is trusted for `ttlMs`; what it may cost is bounded by the claim, which locks the
 * runner's row by id and token hash in its own transaction ({@link claimJob}'s `tokenHash`), so a
 * runner deleted, or whose token was reset, since the entry was made gets no job: it is answered
 * 204 (not 403) until the entry ends. Only tokens that matched are kept (a wrong token is looked
 * up every time, and counts against the auth rate limit as before), keyed by their hash. A
 * runner paused since its entry was made is not answered 204 at once, as GitLab does, but gets no
 * job either: the claim reads the row and sees the pause; a paused runner is never served from
 * the cache, so resuming it takes effect at once.
 */
export class RunnerTokenCache {
  readonly #entries = new Map<string, { runner: RunnerRecord; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly capacity = 10_000,
  ) {}

  /**
   * The runner owning `token` (as {@link authenticateRunner}) and the token's hash, from the cache
   * when a check of it is younger than the TTL.
   */
  async authenticate(
    coordinator: Coordinator,
    token: unknown,
  ): Promise<{ runner: RunnerRecord; tokenHash: string }> {
    if (typeof token !== 'string' || token === '') return this.#check(coordinator, token);
    const hash = hashSecret(token);
    const now = Date.now();
    const cached = this.#entries.get(hash);
    // A paused runner is answered at once without a claim, so its resumption must be seen at
    // once: it is looked up every time.
    if (cached !== undefined && cached.until > now && !cached.runner.paused)
      return { runner: cached.runner, tokenHash: hash };
    const fresh = await this.#check(coordinator, token);
    // Bounded: a full cache starts over rather than growing with every runner ever seen.
    if (this.#entries.size >= this.capacity) this.#entries.clear();
    this.#entries.set(hash, { runner: fresh.runner, until: now + this.ttlMs });
    return fresh;
  }

  /** Keeps what the node just wrote to the runner's row (its `contacted_at`) in the cached copy. */
  update(tokenHash: string, runner: RunnerRecord): void {
    const cached = this.#entries.get(tokenHash);
    if (cached !== undefined) cached.runner = runner;
  }

  async #check(
    coordinator: Coordinator,
    token: unknown,
  ): Promise<{ runner: RunnerRecord; tokenHash: string }> {
    const runner = await authenticateRunner(coordinator, token);
    return { runner, tokenHash: hashSecret(token as string) };
  }
}
