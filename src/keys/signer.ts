import { type KeyObject, sign } from 'node:crypto';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from './algorithms.js';

/**
 * What token minting needs from a key: its `kid`, its `alg`, and a way to sign bytes.
 * A KMS or HSM implements it by returning a promise.
 */
export interface Signer {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** Signs the JWS signing input; returns the raw JWS signature (ES256: `r || s`, 64 bytes). */
  sign(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** A {@link Signer} over a private `KeyObject` held in memory, signing with `node:crypto` synchronously. */
export function createKeyObjectSigner(kid: string, alg: SigningAlgorithm, privateKey: KeyObject): Signer {
  const spec = SIGNING_ALGORITHMS[alg];
  const key = spec.dsaEncoding ? { key: privateKey, dsaEncoding: spec.dsaEncoding } : privateKey;
  return Object.freeze({
    kid,
    alg,
    sign: (data: Uint8Array): Uint8Array => sign(spec.hash, data, key),
  });
}
