import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { SigningAlgorithm } from '../keys/algorithms.js';

/** A verification key from the issuer's JWKS, imported once and reused for every token it signed. */
export interface VerificationKey {
  kid: string;
  alg: SigningAlgorithm;
  key: KeyObject;
  /** What `crypto.verify` takes: ES256 signatures are raw `r || s`. */
  verifyKey: KeyObject | { key: KeyObject; dsaEncoding: 'ieee-p1363' };
  signatureLength: number;
}

/**
 * Imports one JWK as a verification key, or answers null for a key we must not use: no `kid`,
 * not a signing key, a private key, an unsupported type or curve, RSA under 2048 bits, or an
 * `alg` that does not match the key type. The algorithm comes from the key, never from a token.
 */
export function importVerificationKey(jwk: unknown): VerificationKey | null {
  if (jwk === null || typeof jwk !== 'object') return null;
  const candidate = jwk as Record<string, unknown>;
  const { kid, kty, use, alg } = candidate;
  if (typeof kid !== 'string' || kid === '') return null;
  if (use !== undefined && use !== 'sig') return null;
  if ('d' in candidate) return null;
  let expected: SigningAlgorithm;
  let material: JsonWebKey;
  if (kty === 'RSA' && typeof candidate.n === 'string' && typeof candidate.e === 'string') {
    expected = 'RS256';
    material = { kty, n: candidate.n, e: candidate.e };
  } else if (
    kty === 'EC' &&
    candidate.crv === 'P-256' &&
    typeof candidate.x === 'string' &&
    typeof candidate.y === 'string'
  ) {
    expected = 'ES256';
    material = { kty, crv: 'P-256', x: candidate.x, y: candidate.y };
  } else {
    return null;
  }
  if (alg !== undefined && alg !== expected) return null;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: material, format: 'jwk' });
  } catch {
    return null;
  }
  if (expected === 'RS256') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) return null;
    return { kid, alg: expected, key, verifyKey: key, signatureLength: bits / 8 };
  }
  return { kid, alg: expected, key, verifyKey: { key, dsaEncoding: 'ieee-p1363' }, signatureLength: 64 };
}
