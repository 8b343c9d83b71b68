import { createPrivateKey, type KeyObject } from 'node:crypto';
import { TesseraError } from '../errors.js';
import { resolveAlgorithm, type SigningAlgorithm } from './algorithms.js';
import { generateSigningKey, type SigningKeyPair, sealSigningKey } from './generate-signing-key.js';
import { isPublished, publishedKeys, type RenderedJwks, renderJwks } from './jwks.js';
import { decryptPrivateKey, encryptPrivateKey } from './key-encryption.js';
import { createKeyObjectSigner, type Signer } from './signer.js';
import type { KeyState, SigningKeyRecord, SigningKeyRepository } from './signing-key-record.js';
import type { SigningPool } from './signing-pool.js';

/** Options of a {@link Keyring}. Durations are seconds, the clock is milliseconds. */
export interface KeyringOptions {
  repository: SigningKeyRepository;
  /** The 32-byte key-encryption key (see `loadKeyEncryptionKey`). */
  kek: Uint8Array;
  clock?: () => number;
  /** Seconds relying parties may cache the JWKS; a `next` key is published this long before it signs. */
  jwksCachePeriod: number;
  /** Upper bound on any token's lifetime; a `previous` key stays published this long plus the cache period. */
  maxTokenLifetime: number;
  /** Seconds between reloads from the repository when other nodes may change keys (default 5). */
  refreshInterval?: number;
  /** Worker threads to sign in (a server's); without one, signers sign in the calling thread. */
  signingPool?: SigningPool;
}

/** Key pairs generated outside the keyring (see {@link Keyring.adopt}), each with the state it takes. */
export type PendingKeyPairs = Promise<
  ReadonlyArray<{ readonly state: 'current' | 'next'; readonly pair: SigningKeyPair }>
>;

/** A key as `tessera keys list` and the admin API show it: no key material, public or private. */
export interface SigningKeySummary {
  kid: string;
  alg: SigningAlgorithm;
  state: KeyState;
  /** Whether the key is in the JWKS right now. */
  published: boolean;
  createdAt: number;
  activatedAt: number | null;
  deactivatedAt: number | null;
  retireAfter: number | null;
  revokedAt: number | null;
}

/** What a rotation changed. */
export interface RotationResult {
  alg: SigningAlgorithm;
  /** The key that signs from now on. */
  current: string;
  /** The key that signed until now (still published), if there was one. */
  previous: string | null;
  /** The freshly generated key, published now, signing at the next rotation. */
  next: string;
}

/**
 * The signing keys of an instance and their lifecycle (DESIGN 4): one lineage per algorithm with
 * a `current` key that signs, a `next` key published ahead of use, `previous` keys kept until
 * every token they signed has expired plus the JWKS cache period, and retired keys never reused.
 *
 * State lives in the repository, so several coordinator nodes sharing one database agree; each
 * node reloads at most every `refreshInterval` seconds, or at once after its own changes or `refresh()`.
 */
export class Keyring {
  readonly #repository: SigningKeyRepository;
  readonly #kek: Uint8Array;
  readonly #clock: () => number;
  readonly #cachePeriodMs: number;
  readonly #maxLifetimeMs: number;
  readonly #refreshMs: number;
  readonly #signingPool: SigningPool | undefined;
  #records: SigningKeyRecord[] | null = null;
  #loadedAt = 0;
  #loading: Promise<SigningKeyRecord[]> | null = null;
  readonly #signers = new Map<string, Signer>();
  #jwks: { fingerprint: string; rendered: RenderedJwks } | null = null;
  #adopt: (() => Promise<void>) | null = null;
  #adopting: Promise<void> | null = null;

  constructor(options: KeyringOptions) {
    for (const name of ['jwksCachePeriod', 'maxTokenLifetime'] as const) {
      if (!Number.isFinite(options[name]) || options[name] < 0) throw new TypeError(`Keyring: bad ${name}`);
    }
    this.#repository = options.repository;
    this.#kek = options.kek;
    this.#clock = options.clock ?? Date.now;
    this.#cachePeriodMs = options.jwksCachePeriod * 1000;
    this.#maxLifetimeMs = options.maxTokenLifetime * 1000;
    this.#refreshMs = (options.refreshInterval ?? 5) * 1000;
    this.#signingPool = options.signingPool;
  }

  /**
   * Seals a secret the coordinator must read back (a mirror's webhook secret) with the
   * key-encryption key, bound to `purpose` (AES-256-GCM additional data), so the store never holds it in clear.
   */
  sealSecret(secret: string, purpose: string): string {
    return encryptPrivateKey(Buffer.from(secret, 'utf8'), this.#kek, purpose);
  }

  /** Opens what {@link sealSecret} sealed for the same `purpose`. */
  openSecret(sealed: string, purpose: string): string {
    return decryptPrivateKey(sealed, this.#kek, purpose).toString('utf8');
  }

  /**
   * Makes sure each listed lineage has a `current` and a `next` key (first start: both are created;
   * the first `current` signs at once because nothing could have cached a JWKS yet).
   */
  async ensureKeys(algs: readonly SigningAlgorithm[] = ['RS256']): Promise<void> {
    for (const alg of algs) resolveAlgorithm(alg);
    await this.#mutate(async (repository, records, now) => {
      for (const alg of algs) {
        const current = records.find((record) => record.alg === alg && record.state === 'current');
        const next = records.find((record) => record.alg === alg && record.state === 'next');
        if (!current) {
          if (next) {
            await repository.updateSigningKey(next.kid, { state: 'current', activatedAt: now });
          } else {
            const created = await generateSigningKey({ alg, kek: this.#kek, state: 'current', now });
            await repository.insertSigningKey(created.record);
          }
        }
        if (!current || !next) {
          const created = await generateSigningKey({ alg, kek: this.#kek, state: 'next', now });
          await repository.insertSigningKey(created.record);
        }
      }
    });
  }

  /**
   * Takes its keys from `generate` instead of generating a `current` and a `next` key per lineage
   * here, and calls it only when a key is first needed (`tessera run`: a pipeline whose jobs mint
   * no token never spends the 0.1–0.6 s of CPU an RSA-2048 key costs). The pairs are sealed and
   * stored when they arrive; until then every read (signer, JWKS, algorithms, list) waits for them.
   * A failed generation fails those reads with its error.
   */
  adopt(generate: () => PendingKeyPairs): void {
    this.#adopt = () =>
      generate().then((generated) =>
        this.#mutate(async (repository, _records, now) => {
          for (const { state, pair } of generated) {
            await repository.insertSigningKey(sealSigningKey(pair, { kek: this.#kek, state, now }).record);
          }
        }),
      );
  }

  /**
   * Rotates one lineage: `next` → `current`, `current` → `previous` (kept until every token it
   * signed has expired plus the cache period), and a fresh `next`.
   *
   * @throws TesseraError `ERR_KEYS_STATE_INVALID` when the `next` key has been published for less
   *   than the JWKS cache period (relying parties may not have it yet), unless `force` is set or
   *   there is no `current` key (after a revoke) so nothing could sign otherwise.
   */
  async rotate(alg: SigningAlgorithm, options: { force?: boolean } = {}): Promise<RotationResult> {
    resolveAlgorithm(alg);
    return this.#mutate(async (repository, records, now) => {
      const current = records.find((record) => record.alg === alg && record.state === 'current');
      let next = records.find((record) => record.alg === alg && record.state === 'next');
      if (current && !options.force) {
        const publishedFor = next ? now - next.createdAt : 0;
        if (publishedFor < this.#cachePeriodMs) {
          throw new TesseraError(
            'ERR_KEYS_STATE_INVALID',
            `the next ${alg} key has been published for ${Math.floor(publishedFor / 1000)} s, less than the JWKS ` +
              `cache period (${this.#cachePeriodMs / 1000} s), so relying parties may not know it yet; ` +
              'wait, or force the rotation (tessera keys rotate --force)',
            { details: { alg, publishedSeconds: Math.floor(publishedFor / 1000) } },
          );
        }
      }
      if (!next) {
        next = (await generateSigningKey({ alg, kek: this.#kek, state: 'next', now })).record;
        await repository.insertSigningKey(next);
      }
      // Every current key of the lineage steps down: two nodes racing on a store without locking
      // could have left more than one, and a rotation must leave exactly one signing.
      for (const record of records) {
        if (record.alg !== alg || record.state !== 'current') continue;
        await repository.updateSigningKey(record.kid, {
          state: 'previous',
          deactivatedAt: now,
          retireAfter: now + this.#maxLifetimeMs + this.#cachePeriodMs,
        });
      }
      await repository.updateSigningKey(next.kid, { state: 'current', activatedAt: now });
      const fresh = await generateSigningKey({ alg, kek: this.#kek, state: 'next', now });
      await repository.insertSigningKey(fresh.record);
      return { alg, current: next.kid, previous: current?.kid ?? null, next: fresh.record.kid };
    });
  }

  /**
   * Emergency revoke: the key leaves the JWKS at once and never signs again. Revoking the
   * `current` key promotes the `next` one so minting goes on; a fresh `next` replaces whichever left.
   *
   * @throws TesseraError `ERR_KEYS_NOT_FOUND`, or `ERR_KEYS_STATE_INVALID` for a key already retired or revoked.
   */
  async revoke(kid: string): Promise<SigningKeySummary> {
    return this.#mutate(async (repository, records, now) => {
      const record = records.find((candidate) => candidate.kid === kid);
      if (!record)
        throw new TesseraError('ERR_KEYS_NOT_FOUND', `no signing key has kid ${JSON.stringify(kid)}`);
      if (record.state === 'retired' || record.revokedAt !== null) {
        throw new TesseraError('ERR_KEYS_STATE_INVALID', `signing key ${kid} is already retired`);
      }
      await repository.updateSigningKey(kid, {
        state: 'retired',
        revokedAt: now,
        deactivatedAt: record.deactivatedAt ?? now,
      });
      if (record.state === 'current') {
        const next = records.find((candidate) => candidate.alg === record.alg && candidate.state === 'next');
        if (next) await repository.updateSigningKey(next.kid, { state: 'current', activatedAt: now });
      }
      if (record.state === 'current' || record.state === 'next') {
        const fresh = await generateSigningKey({ alg: record.alg, kek: this.#kek, state: 'next', now });
        await repository.insertSigningKey(fresh.record);
      }
      this.#signers.delete(kid);
      return summarize({ ...record, state: 'retired', revokedAt: now }, now);
    });
  }

  /**
   * The `current` and `next` keys (of `algs`, default every lineage) whose private key the
   * key-encryption key does not open: a coordinator started with another key-encryption key than
   * the one its keys were sealed with. Checked at start, so the mistake is not found at the first
   * mint. A `current` key that opens is kept as the lineage's signer.
   */
  async unopenableKeys(algs?: readonly SigningAlgorithm[]): Promise<SigningKeySummary[]> {
    const records = await this.#current();
    const now = this.#clock();
    const unopenable: SigningKeySummary[] = [];
    for (const record of records) {
      if (record.state !== 'current' && record.state !== 'next') continue;
      if (algs !== undefined && !algs.includes(record.alg)) continue;
      try {
        if (record.state === 'current') await this.signer(record.alg);
        else this.#privateKey(record);
      } catch (error) {
        if (!(error instanceof TesseraError) || error.code !== 'ERR_KEYS_DECRYPT_FAILED') throw error;
        unopenable.push(summarize(record, now));
      }
    }
    return unopenable;
  }

  /** Every key with its state and timestamps, oldest first. */
  async list(): Promise<SigningKeySummary[]> {
    const records = await this.#current();
    const now = this.#clock();
    return records.map((record) => summarize(record, now));
  }

  /**
   * The signer of the `current` key of a lineage. The private key is decrypted once per `kid`
   * and kept as a `KeyObject`, so minting never parses a key.
   *
   * @throws TesseraError `ERR_KEYS_NO_SIGNING_KEY` when the lineage has no current key.
   */
  async signer(alg: SigningAlgorithm = 'RS256'): Promise<Signer> {
    const records = await this.#current();
    const record = records.find((candidate) => candidate.alg === alg && candidate.state === 'current');
    if (!record) {
      resolveAlgorithm(alg);
      throw new TesseraError(
        'ERR_KEYS_NO_SIGNING_KEY',
        `no current ${alg} signing key; run tessera keys rotate --alg ${alg}`,
      );
    }
    let signer = this.#signers.get(record.kid);
    if (!signer) {
      const privateKey = this.#privateKey(record);
      signer = this.#signingPool
        ? this.#signingPool.signer(record.kid, record.alg, privateKey)
        : createKeyObjectSigner(record.kid, record.alg, privateKey);
      this.#signers.set(record.kid, signer);
    }
    return signer;
  }

  /**
   * The cached signer of a lineage's `current` key when the keyring's view is fresh, without any
   * I/O; undefined when {@link signer} has to load or decrypt first. Lets minting skip an await.
   */
  cachedSigner(alg: SigningAlgorithm = 'RS256'): Signer | undefined {
    if (!this.#records || this.#clock() - this.#loadedAt >= this.#refreshMs) return undefined;
    const record = this.#records.find((candidate) => candidate.alg === alg && candidate.state === 'current');
    return record ? this.#signers.get(record.kid) : undefined;
  }

  /** The algorithms that have a `current` key, for the discovery document. */
  async algorithms(): Promise<SigningAlgorithm[]> {
    const records = await this.#current();
    return (['RS256', 'ES256'] as const).filter((alg) =>
      records.some((record) => record.alg === alg && record.state === 'current'),
    );
  }

  /** The JWKS (`next`, `current` and `previous` keys), rendered once and reused until the published set changes. */
  async jwks(): Promise<RenderedJwks> {
    return this.#rendered(publishedKeys(await this.#current(), this.#clock()));
  }

  /**
   * As {@link jwks}, without waiting, when the key records in memory are fresh (the JWKS
   * endpoint's hot path: no promise per request); undefined when they must be loaded first.
   */
  jwksIfLoaded(): RenderedJwks | undefined {
    if (this.#adopt || !this.#records || this.#clock() - this.#loadedAt >= this.#refreshMs) return undefined;
    return this.#rendered(publishedKeys(this.#records, this.#clock()));
  }

  #rendered(records: SigningKeyRecord[]): RenderedJwks {
    const fingerprint = records.map((record) => record.kid).join(',');
    if (this.#jwks?.fingerprint !== fingerprint) {
      this.#jwks = { fingerprint, rendered: renderJwks(records) };
    }
    return this.#jwks.rendered;
  }

  /** Reloads keys from the repository now and records `previous` keys whose time is up as retired. */
  async refresh(): Promise<void> {
    this.#records = null;
    await this.#current();
  }

  /**
   * Time-based maintenance: each `previous` key past its `retireAfter` becomes `retired`.
   * Runs on every reload; returns the kids it retired.
   */
  async maintain(): Promise<string[]> {
    const now = this.#clock();
    const due = (await this.#repository.listSigningKeys()).filter(
      (record) => record.state === 'previous' && record.retireAfter !== null && record.retireAfter <= now,
    );
    if (due.length === 0) return [];
    await this.#repository.transaction(async (repository) => {
      for (const record of due) await repository.updateSigningKey(record.kid, { state: 'retired' });
    });
    this.#records = null;
    return due.map((record) => record.kid);
  }

  async #current(): Promise<SigningKeyRecord[]> {
    if (this.#adopt) {
      this.#adopting ??= this.#adopt();
      await this.#adopting;
      this.#adopt = null;
    }
    if (this.#records && this.#clock() - this.#loadedAt < this.#refreshMs) return this.#records;
    this.#loading ??= this.#load().finally(() => {
      this.#loading = null;
    });
    return this.#loading;
  }

  async #load(): Promise<SigningKeyRecord[]> {
    await this.maintain();
    const records = await this.#repository.listSigningKeys();
    const live = new Set(records.filter((record) => record.state === 'current').map((record) => record.kid));
    for (const kid of this.#signers.keys()) if (!live.has(kid)) this.#signers.delete(kid);
    this.#records = records;
    this.#loadedAt = this.#clock();
    return records;
  }

  async #mutate<T>(
    fn: (repository: SigningKeyRepository, records: SigningKeyRecord[], now: number) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.#repository.transaction(async (repository) =>
        fn(repository, await repository.listSigningKeys(), this.#clock()),
      );
    } finally {
      this.#records = null;
    }
  }

  #privateKey(record: SigningKeyRecord): KeyObject {
    const der = decryptPrivateKey(record.encryptedPrivateKey, this.#kek, record.kid);
    try {
      return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } catch (error) {
      throw new TesseraError(
        'ERR_KEYS_DECRYPT_FAILED',
        `stored private key ${record.kid} is not a valid key`,
        {
          cause: error instanceof Error ? new Error(error.name) : undefined,
        },
      );
    } finally {
      der.fill(0);
    }
  }
}

function summarize(record: SigningKeyRecord, now: number): SigningKeySummary {
  return {
    kid: record.kid,
    alg: record.alg,
    state: record.state,
    published: isPublished(record, now),
    createdAt: record.createdAt,
    activatedAt: record.activatedAt,
    deactivatedAt: record.deactivatedAt,
    retireAfter: record.retireAfter,
    revokedAt: record.revokedAt,
  };
}
