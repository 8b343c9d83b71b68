import type { AccessTokenRecord } from '../store/repositories/users.js';
import type { Coordinator } from './coordinator.js';
import { generateSecret, TOKEN_PREFIXES } from './secret-token.js';

/**
 * GitLab's token rotation: revokes `token` and creates its successor with the same user, name
 * and scopes, expiring at `expiresAt`. Answers the new record and its secret, shown once; only
 * the secret's hash is stored.
 */
export async function rotateAccessToken(
  coordinator: Coordinator,
  token: AccessTokenRecord,
  expiresAt: number | null,
  now: number,
): Promise<{ rotated: AccessTokenRecord; secret: string }> {
  await coordinator.repos.users.revokeAccessToken(token.id);
  const secret = generateSecret(TOKEN_PREFIXES.personalAccess);
  const rotated = await coordinator.repos.users.createAccessToken({
    userId: token.userId,
    name: token.name,
    scopes: token.scopes,
    tokenHash: secret.hash,
    createdAt: now,
    expiresAt,
  });
  return { rotated, secret: secret.value };
}
