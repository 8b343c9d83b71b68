/**
 * `tessera-ci/verify`: verify Tessera (or any OpenID Connect issuer's) ID tokens in a relying party.
 *
 * @example
 * ```ts
 * import { createVerifier } from 'tessera-ci/verify';
 * const verifier = createVerifier({ issuer: 'https://ci.example.com', audience: 'https://vault.example.com',
 *   boundClaims: { project_path: 'acme/*', ref_protected: 'true' }, boundClaimsType: 'glob' });
 * const claims = await verifier.verify(token); // throws TesseraError ERR_VERIFY_* on any rejection
 * ```
 */
import { verify as cryptoVerify, type JsonWebKey } from 'node:crypto';
import { TesseraError } from '../errors.js';
import type { SigningAlgorithm } from '../keys/algorithms.js';
import {
  type BoundClaims,
  type BoundClaimsType,
  checkBoundClaims,
  compileBoundClaims,
  shownValue,
} from './bound-claims.js';
import { decodeJsonSegment, MAX_TOKEN_LENGTH, splitToken } from './decode-token.js';
import { type FetchLike, KeySet } from './key-set.js';

export { isTesseraError, TesseraError } from '../errors.js';
export type { BoundClaims, BoundClaimsType } from './bound-claims.js';
export { type DecodedToken, decodeToken } from './decode-token.js';
export type { FetchLike } from './key-set.js';
export {
  evaluateVaultRole,
  parseVaultRole,
  type VaultJwtRole,
  type VaultRoleCheck,
  type VaultRoleVerdict,
} from './vault-role.js';

/** Options of {@link createVerifier}. Durations are seconds. */
export interface VerifierOptions {
  /** The expected `iss`, byte for byte; discovery is read from `<issuer>/.well-known/openid-configuration`. */
  issuer: string;
  /** The audience this relying party answers to; `aud` must be it or a list containing it (any of them, for a list). */
  audience: string | readonly string[];
  /** Accepted algorithms; RS256 and ES256 by default. `none`, `HS*` and anything else are refused. */
  algorithms?: readonly SigningAlgorithm[];
  /** Claims that must match (Vault's `bound_claims`); a name starting with `/` is a JSON pointer. */
  boundClaims?: BoundClaims;
  /** `string` (exact, default) or `glob` (`*` wildcards), as Vault's `bound_claims_type`. */
  boundClaimsType?: BoundClaimsType;
  /** Clock skew allowed on `exp`, `nbf` and `iat`; 60 s by default, as Vault. */
  leeway?: number;
  /** The `fetch` used for discovery and the JWKS; the global one by default. */
  fetch?: FetchLike;
  /** Skips discovery: keys come from this function (for example a coordinator's own keyring). */
  keySet?: () => Promise<{ keys: JsonWebKey[] | readonly unknown[] }>;
  /** Milliseconds since the epoch; `Date.now` by default (tests freeze it). */
  clock?: () => number;
  /** Least time between two JWKS refetches caused by unknown kids or failures; 10 s by default. */
  refetchInterval?: number;
  /** How long a JWKS is used when the server sends no `max-age`; 300 s by default. */
  jwksMaxAge?: number;
  /** Timeout of each discovery or JWKS request; 5 s by default. */
  fetchTimeout?: number;
  /** Longest token accepted, in characters; 16 KiB by default. */
  maxTokenLength?: number;
}

/** Claims of a verified token: the registered ones checked, everything else as the issuer sent it. */
export interface VerifiedClaims {
  iss: string;
  aud: string | string[];
  exp: number;
  sub?: string;
  nbf?: number;
  iat?: number;
  jti?: string;
  [claim: string]: unknown;
}

/** A configured verifier. */
export interface Verifier {
  /**
   * Verifies a compact JWS and answers its claims.
   *
   * @throws TesseraError with an `ERR_VERIFY_*` code saying why the token was refused.
   */
  verify(token: string): Promise<VerifiedClaims>;
}

const DEFAULT_ALGORITHMS: readonly SigningAlgorithm[] = ['RS256', 'ES256'];
const FORBIDDEN_HEADERS = ['jku', 'jwk', 'x5u', 'x5c'] as const;
const HEADER_CACHE_SIZE = 64;

function optionsError(message: string): TesseraError {
  return new TesseraError('ERR_VERIFY_OPTIONS', message);
}

function seconds(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw optionsError(`${name} must be a non-negative number of seconds`);
  }
  return value;
}

/** The expected audience in a refusal message. */
function expectedAudienceText(audiences: readonly string[]): string {
  return audiences.length === 1 ? shownValue(audiences[0]) : `any of ${shownValue(audiences)}`;
}

/** A NumericDate in a refusal message: ISO 8601 and the number the token carries. */
function timeText(time: number): string {
  return `${new Date(time * 1000).toISOString()} (${time})`;
}

/** The verifier's clock and leeway in a refusal message about a time claim. */
function clockNoteText(now: number, leeway: number): string {
  return `it is now ${timeText(now)}, leeway ${leeway} s`;
}

interface CheckedHeader {
  alg: SigningAlgorithm;
  kid: string;
}

/**
 * Creates a verifier for one issuer and audience. Keys come only from the issuer's JWKS (never
 * from `jku`, `jwk`, `x5u` or `x5c` headers), are imported once per `kid`, and are refetched on an
 * unknown `kid` at most once per `refetchInterval`.
 *
 * @throws TesseraError `ERR_VERIFY_OPTIONS` for a missing issuer or audience, an unsupported
 *   algorithm, a bad bound claim or leeway.
 */
export function createVerifier(options: VerifierOptions): Verifier {
  if (options === null || typeof options !== 'object') throw optionsError('options are required');
  const { issuer } = options;
  if (typeof issuer !== 'string' || issuer === '') throw optionsError('issuer is required');
  if (options.keySet === undefined && !/^https?:\/\/[^/?#]/i.test(issuer)) {
    throw optionsError('issuer must be an http(s) URL (discovery is read from it)');
  }
  const audiences = typeof options.audience === 'string' ? [options.audience] : options.audience;
  if (
    !Array.isArray(audiences) ||
    audiences.length === 0 ||
    !audiences.every((a) => typeof a === 'string' && a !== '')
  ) {
    throw optionsError('audience is required: a non-empty string or list of strings');
  }
  const algorithms = options.algorithms ?? DEFAULT_ALGORITHMS;
  if (
    !Array.isArray(algorithms) ||
    algorithms.length === 0 ||
    !algorithms.every((alg) => DEFAULT_ALGORITHMS.includes(alg))
  ) {
    throw optionsError('algorithms must be a non-empty list of RS256 and ES256');
  }
  const boundClaimsType = options.boundClaimsType ?? 'string';
  if (boundClaimsType !== 'string' && boundClaimsType !== 'glob') {
    throw optionsError('boundClaimsType must be "string" or "glob"');
  }
  const bound = compileBoundClaims(options.boundClaims);
  const leeway = seconds(options.leeway, 60, 'leeway');
  const clock = options.clock ?? Date.now;
  const maxTokenLength = options.maxTokenLength ?? MAX_TOKEN_LENGTH;
  const fetchImpl = options.fetch ?? (globalThis.fetch as unknown as FetchLike | undefined);
  if (options.keySet === undefined && typeof fetchImpl !== 'function')
    throw optionsError('no fetch available');
  const keys = new KeySet(
    options.keySet !== undefined
      ? { kind: 'function', load: options.keySet }
      : {
          kind: 'discovery',
          issuer,
          fetch: fetchImpl as FetchLike,
          timeoutMs: seconds(options.fetchTimeout, 5, 'fetchTimeout') * 1000,
        },
    {
      clock,
      maxAgeMs: seconds(options.jwksMaxAge, 300, 'jwksMaxAge') * 1000,
      refetchIntervalMs: seconds(options.refetchInterval, 10, 'refetchInterval') * 1000,
    },
  );
  const allowed = new Set<string>(algorithms);
  // Every token from one issuer key carries the same header segment: check it once.
  const headers = new Map<string, CheckedHeader>();

  function checkHeader(segment: string): CheckedHeader {
    const cached = headers.get(segment);
    if (cached) return cached;
    const header = decodeJsonSegment(segment, 'header');
    const { alg, kid } = header;
    if (typeof alg !== 'string' || !allowed.has(alg)) {
      const shown = typeof alg === 'string' ? JSON.stringify(alg.slice(0, 16)) : 'missing';
      throw new TesseraError(
        'ERR_VERIFY_ALGORITHM',
        `alg ${shown} is not accepted (allowed: ${algorithms.join(', ')})`,
      );
    }
    for (const name of FORBIDDEN_HEADERS) {
      if (Object.hasOwn(header, name)) {
        throw new TesseraError(
          'ERR_VERIFY_HEADER',
          `the header carries "${name}"; keys are taken only from the issuer's JWKS`,
        );
      }
    }
    if (Object.hasOwn(header, 'crit')) {
      throw new TesseraError(
        'ERR_VERIFY_HEADER',
        'the header lists critical parameters ("crit") this verifier does not understand',
      );
    }
    if (Object.hasOwn(header, 'b64')) {
      throw new TesseraError('ERR_VERIFY_HEADER', 'unencoded payloads ("b64") are not accepted');
    }
    if (typeof kid !== 'string' || kid === '' || kid.length > 256) {
      throw new TesseraError('ERR_VERIFY_HEADER', 'the header has no usable "kid"');
    }
    const checked: CheckedHeader = { alg: alg as SigningAlgorithm, kid };
    if (headers.size >= HEADER_CACHE_SIZE) headers.clear();
    headers.set(segment, checked);
    return checked;
  }

  function isTime(value: unknown): value is number {
    return typeof value === 'number' && Number.isSafeInteger(value);
  }

  function checkClaims(claims: Record<string, unknown>): VerifiedClaims {
    const { iss, aud, exp, nbf, iat, sub } = claims;
    if (typeof iss !== 'string') throw new TesseraError('ERR_VERIFY_CLAIM_TYPE', 'iss must be a string');
    if (
      aud !== undefined &&
      typeof aud !== 'string' &&
      !(Array.isArray(aud) && aud.every((a) => typeof a === 'string'))
    ) {
      throw new TesseraError('ERR_VERIFY_CLAIM_TYPE', 'aud must be a string or a list of strings');
    }
    if (!isTime(exp))
      throw new TesseraError('ERR_VERIFY_CLAIM_TYPE', 'exp is required and must be an integer');
    if (nbf !== undefined && !isTime(nbf))
      throw new TesseraError('ERR_VERIFY_CLAIM_TYPE', 'nbf must be an integer');
    if (iat !== undefined && !isTime(iat))
      throw new TesseraError('ERR_VERIFY_CLAIM_TYPE', 'iat must be an integer');
    if (sub !== undefined && typeof sub !== 'string')
      throw new TesseraError('ERR_VERIFY_CLAIM_TYPE', 'sub must be a string');
    if (iss !== issuer) {
      throw new TesseraError(
        'ERR_VERIFY_ISSUER',
        `iss ${shownValue(iss)} is not the expected issuer ${shownValue(issuer)} (they must match byte for byte)`,
      );
    }
    // The messages are built only for a refusal: verifying is the hot path.
    if (aud === undefined) {
      throw new TesseraError(
        'ERR_VERIFY_AUDIENCE',
        `aud is missing (expected ${expectedAudienceText(audiences)})`,
      );
    }
    const matches =
      typeof aud === 'string' ? audiences.includes(aud) : aud.some((a) => audiences.includes(a as string));
    if (!matches) {
      throw new TesseraError(
        'ERR_VERIFY_AUDIENCE',
        `aud ${shownValue(aud)} does not contain the expected audience ${expectedAudienceText(audiences)}`,
      );
    }
    const now = Math.floor(clock() / 1000);
    if (exp <= now - leeway) {
      throw new TesseraError(
        'ERR_VERIFY_EXPIRED',
        `the token expired at exp ${timeText(exp)}; ${clockNoteText(now, leeway)}`,
      );
    }
    if (nbf !== undefined && nbf > now + leeway) {
      throw new TesseraError(
        'ERR_VERIFY_NOT_YET_VALID',
        `the token is not valid before nbf ${timeText(nbf)}; ${clockNoteText(now, leeway)}`,
      );
    }
    if (iat !== undefined && iat > now + leeway) {
      throw new TesseraError(
        'ERR_VERIFY_ISSUED_IN_FUTURE',
        `the token was issued in the future, at iat ${timeText(iat)}; ${clockNoteText(now, leeway)} (check both clocks)`,
      );
    }
    if (bound.length > 0) checkBoundClaims(claims, bound, boundClaimsType);
    return claims as VerifiedClaims;
  }

  async function verify(token: string): Promise<VerifiedClaims> {
    const [headerSegment, payloadSegment, signatureSegment] = splitToken(token, maxTokenLength, {
      payloadCharset: false,
      signatureCharset: false,
    });
    const header = checkHeader(headerSegment);
    const found = keys.lookup(header.kid);
    const key = found instanceof Promise ? await found : found;
    if (!key)
      throw new TesseraError('ERR_VERIFY_KEY_NOT_FOUND', "no key in the issuer's JWKS has the token's kid");
    if (key.alg !== header.alg)
      throw new TesseraError('ERR_VERIFY_ALGORITHM', `alg ${header.alg} does not match the key (${key.alg})`);
    const signature = Buffer.from(signatureSegment, 'base64url');
    // The last character of a base64url signature carries unused bits; accepting any of its 16
    // spellings would give one token several valid strings (and defeat replay caches keyed on it).
    if (signature.length === key.signatureLength && signature.toString('base64url') !== signatureSegment) {
      throw new TesseraError(
        'ERR_VERIFY_MALFORMED',
        'the token is not a well-formed JWS: the signature is not canonical base64url',
      );
    }
    // One encoding of the whole token; equal lengths mean it is all ASCII, so character offsets are
    // byte offsets. (A latin1 encoding would map a foreign character onto a base64url byte that the
    // decoder then skips, letting two payload texts share one signature.)
    const bytes = Buffer.from(token, 'utf8');
    if (bytes.length !== token.length) {
      throw new TesseraError(
        'ERR_VERIFY_MALFORMED',
        'the token is not a well-formed JWS: it contains non-ASCII characters',
      );
    }
    const signed =
      signature.length === key.signatureLength &&
      cryptoVerify(
        'sha256',
        bytes.subarray(0, headerSegment.length + 1 + payloadSegment.length),
        key.verifyKey,
        signature,
      );
    if (!signed)
      throw new TesseraError('ERR_VERIFY_SIGNATURE', "the signature does not verify with the issuer's key");
    return checkClaims(decodeJsonSegment(payloadSegment, 'claims'));
  }

  return Object.freeze({ verify });
}
