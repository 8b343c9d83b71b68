import type { SigningAlgorithm } from './algorithms.js';

/**
 * Lifecycle state of a signing key (DESIGN 4): `next` is published but does not sign yet,
 * `current` signs, `previous` is published so tokens it signed still verify, `retired` is gone
 * from the JWKS for good.
 */
export type KeyState = 'next' | 'current' | 'previous' | 'retired';

/** The public members of a signing key's JWK (never a private member). */
export interface PublicSigningJwk {
  kty: 'RSA' | 'EC';
  kid: string;
  use: 'sig';
  alg: SigningAlgorithm;
  n?: string;
  e?: string;
  crv?: 'P-256';
  x?: string;
  y?: string;
}

/**
 * One stored signing key. Plain strings, numbers and JSON so each field maps to an SQL column.
 * Times are Unix milliseconds.
 */
export interface SigningKeyRecord {
  /** RFC 7638 thumbprint of the public key; never reused. */
  kid: string;
  alg: SigningAlgorithm;
  state: KeyState;
  /** Public JWK (allow-listed members only). */
  publicJwk: PublicSigningJwk;
  /** The private key (PKCS8 DER) sealed with AES-256-GCM under the key-encryption key; see `key-encryption.ts`. */
  encryptedPrivateKey: string;
  createdAt: number;
  /** When the key became `current` (started signing). */
  activatedAt: number | null;
  /** When the key stopped signing (became `previous`, or was revoked). */
  deactivatedAt: number | null;
  /** A `previous` key is retired at this time: last token it signed expired, plus the JWKS cache period. */
  retireAfter: number | null;
  /** Set by an emergency revoke; the key left the JWKS at that moment. */
  revokedAt: number | null;
}

/** Fields of a {@link SigningKeyRecord} that change over its life. */
export type SigningKeyChanges = Partial<
  Pick<SigningKeyRecord, 'state' | 'activatedAt' | 'deactivatedAt' | 'retireAfter' | 'revokedAt'>
>;

/**
 * Storage of signing keys. The coordinator implements it over SQLite and PostgreSQL; tests,
 * benches and one-shot commands use {@link MemorySigningKeyRepository}.
 */
export interface SigningKeyRepository {
  /** Every key, in any state, oldest first. */
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  /** Stores a new key; a `kid` that exists already (in any state) is an error. */
  insertSigningKey(record: SigningKeyRecord): Promise<void>;
  /** Applies `changes` to the key `kid`. */
  updateSigningKey(kid: string, changes: SigningKeyChanges): Promise<void>;
  /** Runs `fn` atomically (a rotation changes three keys at once). */
  transaction<T>(fn: (repository: SigningKeyRepository) => Promise<T>): Promise<T>;
}
