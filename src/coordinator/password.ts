import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { TesseraError } from '../errors.js';
import { WebSessionRepository } from '../store/repositories/web-sessions.js';
import type { Coordinator } from './coordinator.js';

/** scrypt's cost parameters (N, r, p): about 50 ms and 16 MiB per hash, OWASP's minimum for scrypt. */
const COST = { N: 16384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;

/** GitLab's default minimum password length. */
export const MINIMUM_PASSWORD_LENGTH = 8;

function derive(password: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LENGTH, { ...cost, maxmem: 64 * 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/**
 * Hashes a password with scrypt and a random 16-byte salt:
 * `scrypt$N$r$p$<salt base64url>$<key base64url>`, so the cost can rise later without
 * invalidating stored hashes.
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, COST);
  return `scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** A stored hash that matches nothing: a sign-in for an unknown user still costs one scrypt. */
const DECOY_HASH = `scrypt$${COST.N}$${COST.r}$${COST.p}$${Buffer.alloc(16).toString('base64url')}$${Buffer.alloc(KEY_LENGTH).toString('base64url')}`;

/**
 * Whether `password` matches `stored` (from {@link hashPassword}); compares in constant time.
 * Without a stored hash it still derives one key, so timing does not tell whether a user exists.
 */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const parts = (stored ?? DECOY_HASH).split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, key] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(key, 'base64url');
  const actual = await derive(password, Buffer.from(salt, 'base64url'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return stored !== undefined && expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * Sets a user's web password (`password` on `POST /users` and `PUT /users/:id`, as GitLab).
 *
 * @throws TesseraError `ERR_VALIDATION` for a password shorter than {@link MINIMUM_PASSWORD_LENGTH}.
 */
export async function setUserPassword(
  coordinator: Coordinator,
  userId: number,
  password: string,
): Promise<void> {
  checkPassword(password);
  const hash = await hashPassword(password);
  await new WebSessionRepository(coordinator.store.db).setPasswordHash(userId, hash, coordinator.clock());
}

/**
 * Refuses a password the API must not accept (before anything is created with it).
 *
 * @throws TesseraError `ERR_VALIDATION` for a password shorter than {@link MINIMUM_PASSWORD_LENGTH}.
 */
export function checkPassword(password: string): void {
  if (password.length < MINIMUM_PASSWORD_LENGTH) {
    throw new TesseraError(
      'ERR_VALIDATION',
      `body.password is too short (minimum is ${MINIMUM_PASSWORD_LENGTH} characters)`,
      { details: { field: 'body.password' } },
    );
  }
}
