import type { JsonWebKey } from 'node:crypto';
import { TesseraError } from '../errors.js';
import { importVerificationKey, type VerificationKey } from './import-jwk.js';

/** The `fetch` a verifier uses; the global one by default. */
export type FetchLike = (
  url: string,
  init: { signal: AbortSignal; headers: Record<string, string>; redirect: 'follow' | 'error' },
) => Promise<{
  ok: boolean;
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}>;

/** Where keys come from: the issuer's discovery + JWKS over HTTP, or a function (an in-process keyring). */
export type KeySource =
  | { kind: 'discovery'; issuer: string; fetch: FetchLike; timeoutMs: number }
  | { kind: 'function'; load: () => Promise<{ keys: JsonWebKey[] | readonly unknown[] }> };

/** Timing of a {@link KeySet}, in milliseconds. */
export interface KeySetTiming {
  /** How long a fetched JWKS is used without asking again (unless the server's max-age says otherwise). */
  maxAgeMs: number;
  /** At most one refetch per this interval, for unknown kids and after failures. */
  refetchIntervalMs: number;
  clock: () => number;
}

const MAX_DOCUMENT_BYTES = 1024 * 1024;
const MAX_AGE_CAP_MS = 24 * 3600 * 1000;

function discoveryError(message: string, cause?: unknown): TesseraError {
  return new TesseraError('ERR_VERIFY_DISCOVERY', message, { cause });
}

/**
 * The issuer's keys, imported once per `kid` into `KeyObject`s. Refreshed when the cached copy
 * is older than its max-age, and on an unknown `kid` at most once per refetch interval, so a
 * stream of tokens with made-up kids cannot make us hammer the issuer. A failed refresh keeps
 * the keys we have (stale-if-error) and is retried after the refetch interval.
 */
export class KeySet {
  readonly #source: KeySource;
  readonly #timing: KeySetTiming;
  #keys = new Map<string, VerificationKey>();
  #loaded = false;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #attemptedAt = Number.NEGATIVE_INFINITY;
  #maxAgeMs: number;
  #jwksUri: string | null = null;
  #refreshing: Promise<void> | null = null;

  constructor(source: KeySource, timing: KeySetTiming) {
    this.#source = source;
    this.#timing = timing;
    this.#maxAgeMs = timing.maxAgeMs;
  }

  /**
   * The key for `kid`, or undefined when the issuer does not publish it (after a refetch, if one
   * is allowed now). A cached key is answered synchronously when the cache is fresh.
   *
   * @throws TesseraError `ERR_VERIFY_DISCOVERY` when no key set could be loaded at all.
   */
  lookup(kid: string): VerificationKey | undefined | Promise<VerificationKey | undefined> {
    const now = this.#timing.clock();
    const fresh = this.#loaded && now - this.#fetchedAt < this.#maxAgeMs;
    const key = this.#keys.get(kid);
    if (fresh && key) return key;
    return this.#lookupSlow(kid, fresh);
  }

  async #lookupSlow(kid: string, fresh: boolean): Promise<VerificationKey | undefined> {
    const now = this.#timing.clock();
    const mayRefetch = !this.#loaded || now - this.#attemptedAt >= this.#timing.refetchIntervalMs;
    if (mayRefetch || this.#refreshing) {
      try {
        await this.refresh();
      } catch (error) {
        if (!this.#loaded) throw error;
        // Stale-if-error: keep verifying with the keys we have.
      }
    } else if (!fresh && !this.#keys.has(kid)) {
      return undefined;
    }
    return this.#keys.get(kid);
  }

  /** Fetches the key set now (one request in flight at a time). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#load().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #load(): Promise<void> {
    this.#attemptedAt = this.#timing.clock();
    let jwks: unknown;
    let maxAgeMs = this.#timing.maxAgeMs;
    if (this.#source.kind === 'function') {
      try {
        jwks = await this.#source.load();
      } catch (error) {
        throw discoveryError('the key set could not be loaded', error);
      }
    } else {
      const source = this.#source;
      if (this.#jwksUri === null) {
        const discoveryUrl = `${source.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
        const { body } = await this.#fetchJson(discoveryUrl, 'discovery document');
        const document = body as Record<string, unknown>;
        if (document.issuer !== source.issuer) {
          const found = JSON.stringify(document.issuer) ?? 'no issuer';
          throw discoveryError(
            `the discovery document at ${discoveryUrl} names the issuer ${
              found.length > 200 ? `${found.slice(0, 200)}…` : found
            }, not the expected ${JSON.stringify(source.issuer)} (they must match byte for byte)`,
          );
        }
        const jwksUri = document.jwks_uri;
        if (typeof jwksUri !== 'string' || !/^https?:\/\//i.test(jwksUri)) {
          throw discoveryError(`the discovery document at ${discoveryUrl} has no http(s) jwks_uri`);
        }
        this.#jwksUri = jwksUri;
      }
      let fetched: { body: unknown; maxAgeMs: number | null };
      try {
        fetched = await this.#fetchJson(this.#jwksUri, 'JWKS');
      } catch (error) {
        // The issuer may have moved its JWKS: read discovery again next time.
        this.#jwksUri = null;
        throw error;
      }
      jwks = fetched.body;
      if (fetched.maxAgeMs !== null) maxAgeMs = Math.max(fetched.maxAgeMs, this.#timing.refetchIntervalMs);
    }
    const list = (jwks as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(list)) throw discoveryError('the JWKS has no "keys" list');
    const keys = new Map<string, VerificationKey>();
    const duplicated = new Set<string>();
    for (const jwk of list) {
      const imported = importVerificationKey(jwk);
      if (!imported) continue;
      // Two keys under one kid would make the key choice ambiguous: use neither.
      if (keys.has(imported.kid)) duplicated.add(imported.kid);
      keys.set(imported.kid, imported);
    }
    for (const kid of duplicated) keys.delete(kid);
    this.#keys = keys;
    this.#loaded = true;
    this.#fetchedAt = this.#timing.clock();
    this.#maxAgeMs = maxAgeMs;
  }

  async #fetchJson(url: string, what: string): Promise<{ body: unknown; maxAgeMs: number | null }> {
    if (this.#source.kind !== 'discovery') throw new TypeError('not a discovery source');
    let text: string;
    let cacheControl: string | null;
    try {
      const response = await this.#source.fetch(url, {
        signal: AbortSignal.timeout(this.#source.timeoutMs),
        headers: { accept: 'application/json' },
        redirect: 'follow',
      });
      if (!response.ok) throw discoveryError(`the ${what} at ${url} answered HTTP ${response.status}`);
      const length = Number(response.headers.get('content-length') ?? '0');
      if (length > MAX_DOCUMENT_BYTES) throw discoveryError(`the ${what} at ${url} is too large`);
      cacheControl = response.headers.get('cache-control');
      text = await response.text();
    } catch (error) {
      if (error instanceof TesseraError) throw error;
      throw discoveryError(`the ${what} at ${url} could not be fetched`, error);
    }
    if (text.length > MAX_DOCUMENT_BYTES) throw discoveryError(`the ${what} at ${url} is too large`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw discoveryError(`the ${what} at ${url} is not JSON`);
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw discoveryError(`the ${what} at ${url} is not a JSON object`);
    }
    const maxAge = cacheControl ? /(?:^|,)\s*max-age=(\d+)/i.exec(cacheControl)?.[1] : undefined;
    return { body, maxAgeMs: maxAge === undefined ? null : Math.min(Number(maxAge) * 1000, MAX_AGE_CAP_MS) };
  }
}
