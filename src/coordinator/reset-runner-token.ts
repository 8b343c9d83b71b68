import { TesseraError } from '../errors.js';
import type { RunnerRecord } from '../store/repositories/runners.js';
import type { Coordinator } from './coordinator.js';
import { authenticateRunner } from './runner-auth.js';
import { generateSecret, hashSecret, TOKEN_PREFIXES } from './secret-token.js';

/**
 * Replaces a runner's token with a new one (`POST /runners/reset_authentication_token`, proved by
 * the current token): the old token stops working at once. Answers the runner and its new token
 * (shown once; only its hash is stored). Of two resets with the same token, one wins.
 *
 * @throws TesseraError `ERR_RUNNER_TOKEN_INVALID` for an unknown (or just replaced) token.
 */
export async function resetRunnerToken(
  coordinator: Coordinator,
  currentToken: unknown,
): Promise<{ runner: RunnerRecord; token: string }> {
  const runner = await authenticateRunner(coordinator, currentToken);
  const secret = generateSecret(TOKEN_PREFIXES.runner);
  const replaced = await coordinator.repos.runners.replaceTokenHash(
    runner.id,
    hashSecret(currentToken as string),
    secret.hash,
  );
  if (!replaced) {
    throw new TesseraError(
      'ERR_RUNNER_TOKEN_INVALID',
      'the runner token is unknown; register the runner again',
    );
  }
  return { runner, token: secret.value };
}
