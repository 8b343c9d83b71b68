import type { SigningKeySummary } from './keyring.js';

/** A signing key as the admin API and `tessera keys list --json` show it. */
export interface SigningKeyJson {
  kid: string;
  alg: string;
  state: string;
  published: boolean;
  created_at: string;
  activated_at: string | null;
  deactivated_at: string | null;
  retire_after: string | null;
  revoked_at: string | null;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/**
 * The API's shape of a signing key (snake_case names, ISO 8601 times, no key material), shared by
 * `GET /api/v4/admin/signing_keys` and `tessera keys list --json` so both print the same thing.
 */
export function renderSigningKey(key: SigningKeySummary): SigningKeyJson {
  return {
    kid: key.kid,
    alg: key.alg,
    state: key.state,
    published: key.published,
    created_at: new Date(key.createdAt).toISOString(),
    activated_at: iso(key.activatedAt),
    deactivated_at: iso(key.deactivatedAt),
    retire_after: iso(key.retireAfter),
    revoked_at: iso(key.revokedAt),
  };
}
