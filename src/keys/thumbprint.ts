import { createHash } from 'node:crypto';
import type { PublicSigningJwk } from './signing-key-record.js';

/**
 * RFC 7638 JWK thumbprint (SHA-256, base64url): the hash of the required members in
 * lexicographic order with no whitespace. Used as the `kid`, so a `kid` names exactly one key.
 */
export function jwkThumbprint(jwk: Pick<PublicSigningJwk, 'kty' | 'n' | 'e' | 'crv' | 'x' | 'y'>): string {
  let canonical: string;
  if (jwk.kty === 'RSA') {
    canonical = JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n });
  } else if (jwk.kty === 'EC') {
    canonical = JSON.stringify({ crv: jwk.crv, kty: 'EC', x: jwk.x, y: jwk.y });
  } else {
    throw new TypeError('thumbprint: unsupported key type');
  }
  return createHash('sha256').update(canonical).digest('base64url');
}
