import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmod, link, open, readFile, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TesseraError } from '../errors.js';
import { ensureDataDir } from '../store/data-dir.js';

/** Environment variable holding the key-encryption key (32 bytes, base64 or hex). */
export const KEY_ENCRYPTION_KEY_ENV = 'TESSERA_KEY_ENCRYPTION_KEY';
/** File name of the generated key-encryption key inside the data directory. */
export const KEY_ENCRYPTION_KEY_FILE = 'key-encryption-key';

const VERSION = 'v1';
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
const KEK_LENGTH = 32;

/**
 * Seals a private key (PKCS8 DER, or a JWK's JSON bytes) with AES-256-GCM under `kek`.
 * `aad` (the key's `kid`) binds the blob to its record, so a blob moved onto another record does not open.
 * Returns `v1.<iv>.<ciphertext>.<tag>` in base64url, a plain string for an SQL column.
 */
export function encryptPrivateKey(plaintext: Uint8Array, kek: Uint8Array, aad = ''): string {
  assertKek(kek);
  const iv = randomBytes(IV_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', kek, iv, { authTagLength: TAG_LENGTH });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [
    VERSION,
    iv.toString('base64url'),
    ciphertext.toString('base64url'),
    tag.toString('base64url'),
  ].join('.');
}

/**
 * Opens a blob made by {@link encryptPrivateKey}.
 *
 * @throws TesseraError `ERR_KEYS_DECRYPT_FAILED` when the KEK is not the one it was sealed with, the
 *   blob or its `aad` was altered, or the blob is malformed. The message never carries key material.
 */
export function decryptPrivateKey(blob: string, kek: Uint8Array, aad = ''): Buffer {
  assertKek(kek);
  const parts = typeof blob === 'string' ? blob.split('.') : [];
  const [version, ivText, ciphertextText, tagText] = parts;
  const failed = (reason: string, cause?: unknown) =>
    new TesseraError(
      'ERR_KEYS_DECRYPT_FAILED',
      `a stored private key could not be decrypted (${reason}); check ${KEY_ENCRYPTION_KEY_ENV} or the key file`,
      { cause },
    );
  if (parts.length !== 4 || version !== VERSION || !ivText || ciphertextText === undefined || !tagText) {
    throw failed('unrecognised format');
  }
  const iv = Buffer.from(ivText, 'base64url');
  const tag = Buffer.from(tagText, 'base64url');
  if (iv.length !== IV_LENGTH || tag.length !== TAG_LENGTH) throw failed('unrecognised format');
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek, iv, { authTagLength: TAG_LENGTH });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(ciphertextText, 'base64url')), decipher.final()]);
  } catch {
    // The OpenSSL error says nothing useful and must not travel further; authentication failed.
    throw failed('wrong key-encryption key or altered data');
  }
}

/**
 * Parses a key-encryption key given as 64 hex digits or base64/base64url of 32 bytes.
 *
 * @throws TesseraError `ERR_KEYS_KEK_INVALID`; the message never repeats the value.
 */
export function parseKeyEncryptionKey(text: string, source = KEY_ENCRYPTION_KEY_ENV): Buffer {
  const value = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(value)) key = Buffer.from(value, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(value)) key = Buffer.from(value, 'base64');
  if (!key || key.length !== KEK_LENGTH) {
    throw new TesseraError(
      'ERR_KEYS_KEK_INVALID',
      `${source} must be 32 bytes encoded as 64 hex digits or base64 (for example: openssl rand -base64 32)`,
    );
  }
  return key;
}

/** Where {@link loadKeyEncryptionKey} found or made the key. */
export interface LoadedKeyEncryptionKey {
  key: Buffer;
  source: 'env' | 'file' | 'created';
  /** The key file, when the key came from (or was written to) one. */
  path?: string;
}

/** Where a loaded key-encryption key came from, in words for a message: the variable or the file. */
export function describeKeyEncryptionKey(loaded: Pick<LoadedKeyEncryptionKey, 'source' | 'path'>): string {
  return loaded.source === 'env' ? KEY_ENCRYPTION_KEY_ENV : `the key file ${resolve(loaded.path ?? '')}`;
}

/**
 * Loads the key-encryption key: `TESSERA_KEY_ENCRYPTION_KEY` when set, otherwise
 * `<dataDir>/key-encryption-key`, created with 32 random bytes and mode 0600 on first use
 * (unless `create` is false: commands that work on an existing store never make a new key).
 * Two processes starting at once end up with the same key.
 *
 * @throws TesseraError `ERR_KEYS_KEK_INVALID` for a malformed key, or a missing one when `create` is false.
 */
export async function loadKeyEncryptionKey(options: {
  env?: Readonly<Record<string, string | undefined>>;
  dataDir: string;
  create?: boolean;
}): Promise<LoadedKeyEncryptionKey> {
  const env = options.env ?? process.env;
  const fromEnv = env[KEY_ENCRYPTION_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    return { key: parseKeyEncryptionKey(fromEnv), source: 'env' };
  }
  const path = join(options.dataDir, KEY_ENCRYPTION_KEY_FILE);
  if (options.create !== false) ensureDataDir(options.dataDir);
  try {
    return { key: parseKeyEncryptionKey(await readFile(path, 'utf8'), path), source: 'file', path };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (options.create === false) {
    throw new TesseraError(
      'ERR_KEYS_KEK_INVALID',
      `no key-encryption key: ${KEY_ENCRYPTION_KEY_ENV} is not set and ${resolve(path)} does not exist; ` +
        `set ${KEY_ENCRYPTION_KEY_ENV} to the key tessera serve uses, or give --data-dir its data directory`,
    );
  }
  // Written in full to a private temporary file, then linked into place: link() fails when the
  // name exists, so two processes starting at once never see a half-written key and agree on one.
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(`${randomBytes(KEK_LENGTH).toString('base64')}\n`, 'utf8');
    await handle.sync();
    await handle.close();
    // The umask may have loosened the mode given to open.
    await chmod(temporary, 0o600);
    let source: 'created' | 'file' = 'created';
    try {
      await link(temporary, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      source = 'file';
    }
    return { key: parseKeyEncryptionKey(await readFile(path, 'utf8'), path), source, path };
  } finally {
    await handle.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
  }
}

function assertKek(kek: Uint8Array): void {
  if (!(kek instanceof Uint8Array) || kek.length !== KEK_LENGTH) {
    throw new TesseraError('ERR_KEYS_KEK_INVALID', 'the key-encryption key must be 32 bytes');
  }
}
