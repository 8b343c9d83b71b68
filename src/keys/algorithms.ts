import { TesseraError } from '../errors.js';

/** The JWS algorithms Tessera signs with. Never `none`, `HS*` or EdDSA (DESIGN 3.1). */
export type SigningAlgorithm = 'RS256' | 'ES256';

/** How keys of one algorithm are generated, described in a JWK and used by `node:crypto`. */
export interface SigningAlgorithmSpec {
  /** The JWS `alg`. */
  readonly alg: SigningAlgorithm;
  /** The JWK `kty` of its keys. */
  readonly kty: 'RSA' | 'EC';
  /** Digest passed to `crypto.sign`/`crypto.verify`. */
  readonly hash: 'sha256';
  /** Signature encoding: ECDSA signatures in JWS are the raw `r || s` concatenation (RFC 7518 3.4). */
  readonly dsaEncoding: 'der' | 'ieee-p1363' | undefined;
  /** Length in bytes of every signature (fixed for both algorithms with their key sizes). */
  readonly signatureLength: number;
  /** Human description of the key type, for `tessera keys list`. */
  readonly keyDescription: string;
}

/** Registry of supported signing algorithms: RS256 with RSA-2048 and ES256 with P-256. */
export const SIGNING_ALGORITHMS: Readonly<Record<SigningAlgorithm, SigningAlgorithmSpec>> = Object.freeze({
  RS256: Object.freeze({
    alg: 'RS256',
    kty: 'RSA',
    hash: 'sha256',
    dsaEncoding: undefined,
    signatureLength: 256,
    keyDescription: 'RSA-2048',
  }),
  ES256: Object.freeze({
    alg: 'ES256',
    kty: 'EC',
    hash: 'sha256',
    dsaEncoding: 'ieee-p1363',
    signatureLength: 64,
    keyDescription: 'EC P-256',
  }),
});

/** Every supported algorithm, RS256 (the default) first. */
export const SIGNING_ALGORITHM_NAMES: readonly SigningAlgorithm[] = Object.freeze(['RS256', 'ES256']);

/** Whether `name` is a supported signing algorithm. */
export function isSigningAlgorithm(name: unknown): name is SigningAlgorithm {
  return name === 'RS256' || name === 'ES256';
}

/**
 * Returns the spec of a supported algorithm.
 *
 * @throws TesseraError `ERR_KEYS_ALGORITHM_UNSUPPORTED` for anything else (`none`, `HS256`, `EdDSA`, …).
 */
export function resolveAlgorithm(name: unknown): SigningAlgorithmSpec {
  if (isSigningAlgorithm(name)) return SIGNING_ALGORITHMS[name];
  const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 32)) : typeof name;
  throw new TesseraError(
    'ERR_KEYS_ALGORITHM_UNSUPPORTED',
    `signing algorithm ${shown} is not supported; use RS256 or ES256`,
  );
}
