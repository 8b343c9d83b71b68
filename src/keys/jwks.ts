import { createHash } from 'node:crypto';
import { allowListedJwk } from './public-jwk.js';
import type { KeyState, PublicSigningJwk, SigningKeyRecord } from './signing-key-record.js';

/** The JWKS document served at `<issuer>/oauth/discovery/keys`. */
export interface JwksDocument {
  keys: PublicSigningJwk[];
}

/** A rendered JWKS: the exact body to send, its strong ETag, and the parsed document. */
export interface RenderedJwks {
  body: string;
  etag: string;
  document: JwksDocument;
}

const STATE_ORDER: Record<KeyState, number> = { current: 0, next: 1, previous: 2, retired: 3 };

/**
 * Whether a key belongs in the JWKS at `now` (ms): `next`, `current` and `previous` keys that are
 * not revoked, a `previous` key only until its `retireAfter` (even before maintenance records it as retired).
 */
export function isPublished(record: SigningKeyRecord, now: number): boolean {
  if (record.revokedAt !== null || record.state === 'retired') return false;
  if (record.state === 'previous' && record.retireAfter !== null && record.retireAfter <= now) return false;
  return true;
}

/** The published keys at `now`, in a stable order (RS256 first, then current, next, previous). */
export function publishedKeys(records: readonly SigningKeyRecord[], now: number): SigningKeyRecord[] {
  return records
    .filter((record) => isPublished(record, now))
    .sort(
      (a, b) =>
        a.alg.localeCompare(b.alg) * -1 ||
        STATE_ORDER[a.state] - STATE_ORDER[b.state] ||
        a.createdAt - b.createdAt ||
        a.kid.localeCompare(b.kid),
    );
}

/** Renders the JWKS of `records` (already filtered to the published ones), public members only. */
export function renderJwks(records: readonly SigningKeyRecord[]): RenderedJwks {
  const document: JwksDocument = { keys: records.map((record) => allowListedJwk(record.publicJwk)) };
  const body = JSON.stringify(document);
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, etag, document };
}
