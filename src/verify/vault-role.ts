import { TesseraError } from '../errors.js';
import {
  type BoundClaims,
  type BoundClaimsType,
  compileBoundClaims,
  matchBoundClaim,
} from './bound-claims.js';

/**
 * The fields of a Vault JWT auth role that decide whether a token is accepted, as
 * `vault read -format=json auth/jwt/role/NAME` prints them (its `data`, or the whole answer).
 */
export interface VaultJwtRole {
  role_type?: string;
  bound_audiences?: readonly string[] | string | null;
  bound_subject?: string;
  bound_claims?: BoundClaims | null;
  bound_claims_type?: BoundClaimsType;
  user_claim?: string;
  claim_mappings?: Readonly<Record<string, string>> | null;
}

/** One check of a role against a claim set. */
export interface VaultRoleCheck {
  /** What was checked: `bound_audiences`, `bound_subject`, `bound_claims`, `user_claim`, `claim_mappings`, `role_type`. */
  check: string;
  /** The claim it looked at. */
  claim: string;
  ok: boolean;
  /** The token's value(s), as strings (null when missing). */
  actual: string[] | null;
  /** What the role wants. */
  expected: string[];
  /** Why it failed, in Vault's terms ('' when it passed). */
  reason: string;
}

/** The verdict of {@link evaluateVaultRole}: accepted when every check passed. */
export interface VaultRoleVerdict {
  accepted: boolean;
  checks: VaultRoleCheck[];
}

function roleError(message: string): TesseraError {
  return new TesseraError('ERR_VALIDATION', `Vault role: ${message}`, { details: { field: 'role' } });
}

function stringList(value: unknown, field: string): string[] {
  if (value === undefined || value === null || value === '') return [];
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : null;
  if (!list?.every((item) => typeof item === 'string')) throw roleError(`${field} must be a list of strings`);
  return list.map((item: string) => item.trim()).filter((item: string) => item !== '');
}

/**
 * Reads a role from the JSON text `vault read -format=json auth/jwt/role/NAME` prints (or its
 * `data` object alone), keeping the fields that decide acceptance.
 *
 * @throws TesseraError `ERR_VALIDATION` for text that is not such a JSON object, naming the field.
 */
export function parseVaultRole(text: string): VaultJwtRole {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw roleError('is not JSON (paste the output of vault read -format=json auth/jwt/role/NAME)');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw roleError('must be a JSON object');
  const outer = parsed as Record<string, unknown>;
  const data = (
    outer.data && typeof outer.data === 'object' && !Array.isArray(outer.data) ? outer.data : outer
  ) as Record<string, unknown>;
  const type = data.bound_claims_type ?? 'string';
  if (type !== 'string' && type !== 'glob') throw roleError('bound_claims_type must be "string" or "glob"');
  for (const field of ['bound_subject', 'user_claim', 'role_type'] as const) {
    if (data[field] !== undefined && data[field] !== null && typeof data[field] !== 'string')
      throw roleError(`${field} must be a string`);
  }
  for (const field of ['bound_claims', 'claim_mappings'] as const) {
    const value = data[field];
    if (value !== undefined && value !== null && (typeof value !== 'object' || Array.isArray(value)))
      throw roleError(`${field} must be an object`);
  }
  return {
    ...(typeof data.role_type === 'string' ? { role_type: data.role_type } : {}),
    bound_audiences: stringList(data.bound_audiences, 'bound_audiences'),
    ...(typeof data.bound_subject === 'string' ? { bound_subject: data.bound_subject } : {}),
    bound_claims: (data.bound_claims as BoundClaims | null | undefined) ?? null,
    bound_claims_type: type,
    ...(typeof data.user_claim === 'string' ? { user_claim: data.user_claim } : {}),
    claim_mappings: (data.claim_mappings as Record<string, string> | null | undefined) ?? null,
  };
}

function asStrings(value: unknown): string[] | null {
  if (value === undefined || value === null) return null;
  const list = Array.isArray(value) ? value : [value];
  return list.map((item) => (typeof item === 'string' ? item : JSON.stringify(item)));
}

/**
 * Decides, check by check, whether Vault's JWT auth would accept a token with `claims` for
 * `role` (signature, issuer and times aside): `role_type` is `jwt`, `aud` holds one of
 * `bound_audiences` (and a token with an audience needs bound audiences), `sub` equals
 * `bound_subject`, every `bound_claims` entry matches (through {@link matchBoundClaim}, the
 * matching `tessera-ci/verify` uses), `user_claim` (default `sub`) is a string, and each
 * `claim_mappings` source is a string when present (with Vault's own messages).
 *
 * @throws TesseraError `ERR_VERIFY_OPTIONS` for bound claims Vault itself would refuse to store.
 */
export function evaluateVaultRole(claims: Record<string, unknown>, role: VaultJwtRole): VaultRoleVerdict {
  const checks: VaultRoleCheck[] = [];
  const roleType = role.role_type ?? 'jwt';
  checks.push({
    check: 'role_type',
    claim: '',
    ok: roleType === 'jwt',
    // Not a claim: the token has nothing to show here.
    actual: [],
    expected: ['jwt'],
    reason: roleType === 'jwt' ? '' : `role_type is "${roleType}": only a "jwt" role logs in with a token`,
  });
  const audiences = stringList(role.bound_audiences, 'bound_audiences');
  const tokenAudiences = asStrings(claims.aud) ?? [];
  if (audiences.length > 0) {
    const ok = tokenAudiences.some((aud) => audiences.includes(aud));
    checks.push({
      check: 'bound_audiences',
      claim: 'aud',
      ok,
      actual: tokenAudiences,
      expected: audiences,
      reason: ok ? '' : 'aud claim does not match any expected audience',
    });
  } else if (tokenAudiences.length > 0) {
    checks.push({
      check: 'bound_audiences',
      claim: 'aud',
      ok: false,
      actual: tokenAudiences,
      expected: [],
      reason: 'audience claim found in JWT but no audiences bound to the role',
    });
  }
  if (role.bound_subject) {
    const ok = claims.sub === role.bound_subject;
    checks.push({
      check: 'bound_subject',
      claim: 'sub',
      ok,
      actual: asStrings(claims.sub),
      expected: [role.bound_subject],
      reason: ok ? '' : 'sub claim does not match bound subject',
    });
  }
  const type = role.bound_claims_type ?? 'string';
  for (const bound of compileBoundClaims(role.bound_claims ?? undefined)) {
    const outcome = matchBoundClaim(claims, bound, type);
    checks.push({
      check: `bound_claims (${type})`,
      claim: outcome.name,
      ok: outcome.matched,
      actual: outcome.actual,
      expected: [...outcome.expected],
      reason: outcome.reason,
    });
  }
  const userClaim = role.user_claim ?? 'sub';
  const userValue = claims[userClaim];
  const userOk = typeof userValue === 'string' && userValue !== '';
  checks.push({
    check: 'user_claim',
    claim: userClaim,
    ok: userOk,
    actual: asStrings(userValue),
    expected: [],
    reason: userOk
      ? ''
      : userValue === undefined || userValue === null
        ? `claim "${userClaim}" not found in token`
        : `claim "${userClaim}" could not be converted to string`,
  });
  for (const [source, target] of Object.entries(role.claim_mappings ?? {})) {
    const value = claims[source];
    const ok =
      value === undefined || value === null || ['string', 'number', 'boolean'].includes(typeof value);
    checks.push({
      check: 'claim_mappings',
      claim: source,
      ok,
      actual: asStrings(value),
      expected: [String(target)],
      reason: ok ? '' : `error converting claim '${source}' to string`,
    });
  }
  return { accepted: checks.every((check) => check.ok), checks };
}
