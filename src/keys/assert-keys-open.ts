import { TesseraError } from '../errors.js';
import type { SigningAlgorithm } from './algorithms.js';
import {
  describeKeyEncryptionKey,
  KEY_ENCRYPTION_KEY_ENV,
  type LoadedKeyEncryptionKey,
} from './key-encryption.js';
import type { Keyring } from './keyring.js';

/**
 * Refuses a key-encryption key that does not open the stored `current` and `next` signing keys
 * (of `algs`, default every lineage), naming where the key came from and what to do.
 *
 * @throws TesseraError `ERR_KEYS_DECRYPT_FAILED` listing the keys that do not open (kids only).
 */
export async function assertKeysOpen(
  keyring: Keyring,
  kek: Pick<LoadedKeyEncryptionKey, 'source' | 'path'>,
  algs?: readonly SigningAlgorithm[],
): Promise<void> {
  const unopenable = await keyring.unopenableKeys(algs);
  if (unopenable.length === 0) return;
  const keys = unopenable.map((key) => `${key.kid} (${key.alg} ${key.state})`).join(', ');
  throw new TesseraError(
    'ERR_KEYS_DECRYPT_FAILED',
    `the key-encryption key from ${describeKeyEncryptionKey(kek)} does not open the stored signing key${
      unopenable.length === 1 ? '' : 's'
    } ${keys}: start with the key-encryption key they were sealed with (${KEY_ENCRYPTION_KEY_ENV}, or the key-encryption-key file ` +
      'of the data directory that made them); if that key is lost, revoke these keys (tessera keys revoke KID) and new ones are made',
    { details: { kids: unopenable.map((key) => key.kid) } },
  );
}
