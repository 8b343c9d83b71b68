import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { resolveAlgorithm, type SigningAlgorithm } from './algorithms.js';
import { encryptPrivateKey } from './key-encryption.js';
import { publicJwkOf } from './public-jwk.js';
import type { KeyState, SigningKeyRecord } from './signing-key-record.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/** A freshly generated key: its record (private key sealed) and the private key for immediate use. */
export interface GeneratedSigningKey {
  record: SigningKeyRecord;
  privateKey: KeyObject;
}

/** A key pair not yet named or sealed, from {@link generateSigningKeyPair}. */
export interface SigningKeyPair {
  readonly alg: SigningAlgorithm;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/**
 * Generates an RSA-2048 or P-256 key pair off the main thread (on the libuv thread pool). Apart
 * from {@link sealSigningKey} so that a caller can start the slow part before it has a
 * key-encryption key (`tessera run` starts it while its modules load).
 */
export async function generateSigningKeyPair(alg: SigningAlgorithm): Promise<SigningKeyPair> {
  const spec = resolveAlgorithm(alg);
  const { privateKey, publicKey } =
    spec.kty === 'RSA'
      ? await generateKeyPairAsync('rsa', { modulusLength: 2048, publicExponent: 0x10001 })
      : await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  return { alg: spec.alg, privateKey, publicKey };
}

/**
 * Names a key pair by its RFC 7638 thumbprint and seals the private key (PKCS8 DER) under `kek`
 * with the `kid` as associated data.
 */
export function sealSigningKey(
  pair: SigningKeyPair,
  options: { kek: Uint8Array; state: KeyState; now: number },
): GeneratedSigningKey {
  const publicJwk = publicJwkOf(pair.publicKey, pair.alg);
  const der = pair.privateKey.export({ format: 'der', type: 'pkcs8' });
  const record: SigningKeyRecord = {
    kid: publicJwk.kid,
    alg: pair.alg,
    state: options.state,
    publicJwk,
    encryptedPrivateKey: encryptPrivateKey(der, options.kek, publicJwk.kid),
    createdAt: options.now,
    activatedAt: options.state === 'current' ? options.now : null,
    deactivatedAt: null,
    retireAfter: null,
    revokedAt: null,
  };
  der.fill(0);
  return { record, privateKey: pair.privateKey };
}

/**
 * Generates an RSA-2048 or P-256 key pair off the main thread, names it by its RFC 7638
 * thumbprint and seals the private key (PKCS8 DER) under `kek` with the `kid` as associated data.
 */
export async function generateSigningKey(options: {
  alg: SigningAlgorithm;
  kek: Uint8Array;
  state: KeyState;
  now: number;
}): Promise<GeneratedSigningKey> {
  return sealSigningKey(await generateSigningKeyPair(options.alg), options);
}
