import { TesseraError } from '../errors.js';
import type { RunnerRecord } from '../store/repositories/runners.js';
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
