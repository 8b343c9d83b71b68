import type { KeyObject } from 'node:crypto';
import type { SigningAlgorithm } from './algorithms.js';
import type { PublicSigningJwk } from './signing-key-record.js';
import { jwkThumbprint } from './thumbprint.js';

/**
 * The public JWK of a key, built member by member from an allow-list
 * (`kty, kid, use, alg, n, e, crv, x, y`), so no private member can ever slip in.
 */
export function publicJwkOf(key: KeyObject, alg: SigningAlgorithm): PublicSigningJwk {
  const exported = key.export({ format: 'jwk' });
  if (exported.kty === 'RSA' && alg === 'RS256' && exported.n && exported.e) {
    const kid = jwkThumbprint({ kty: 'RSA', n: exported.n, e: exported.e });
    return { kty: 'RSA', kid, use: 'sig', alg, n: exported.n, e: exported.e };
  }
  if (exported.kty === 'EC' && alg === 'ES256' && exported.crv === 'P-256' && exported.x && exported.y) {
    const kid = jwkThumbprint({ kty: 'EC', crv: 'P-256', x: exported.x, y: exported.y });
    return { kty: 'EC', kid, use: 'sig', alg, crv: 'P-256', x: exported.x, y: exported.y };
  }
  throw new TypeError(`publicJwkOf: key does not match ${alg}`);
}

/** Copies only the allow-listed public members of a stored JWK, in a fixed order. */
export function allowListedJwk(jwk: PublicSigningJwk): PublicSigningJwk {
  if (jwk.kty === 'RSA') {
    return { kty: 'RSA', kid: jwk.kid, use: 'sig', alg: jwk.alg, n: jwk.n, e: jwk.e };
  }
  return { kty: 'EC', kid: jwk.kid, use: 'sig', alg: jwk.alg, crv: jwk.crv, x: jwk.x, y: jwk.y };
}
