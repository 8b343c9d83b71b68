import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** The kinds of secret the coordinator hands out, each with a recognisable prefix (like GitLab's `glpat-`). */
export const TOKEN_PREFIXES = {
  personalAccess: 'tspat-',
  runner: 'tsrt-',
  job: 'tsjob-',
  idTokenRequest: 'tsidr-',
} as const;

/** A freshly generated secret: the value (shown once) and its hash (stored). */
export interface GeneratedSecret {
  value: string;
  hash: string;
}

/** A new random token (160 bits) with `prefix`, and the hash to store. */
export function generateSecret(prefix: string): GeneratedSecret {
  const value = `${prefix}${randomBytes(20).toString('base64url')}`;
  return { value, hash: hashSecret(value) };
}

/** SHA-256 (hex) of a token. Tokens are 160-bit random values, so an unsalted hash is enough. */
export function hashSecret(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Compares two hashes in constant time (both are SHA-256 hex of the same length, or unequal). */
export function hashesEqual(a: string | null | undefined, b: string | null | undefined): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}
