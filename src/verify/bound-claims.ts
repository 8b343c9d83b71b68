import { TesseraError } from '../errors.js';

/** How bound claim values compare (Vault's `bound_claims_type`): exactly, or as globs with `*`. */
export type BoundClaimsType = 'string' | 'glob';

/** Bound claims as given: claim name (or JSON pointer `/a/b`) → accepted value or values. */
export type BoundClaims = Readonly<
  Record<string, string | number | boolean | readonly (string | number | boolean)[]>
>;

/** A validated bound claim, ready to match. */
export interface CompiledBoundClaim {
  name: string;
  /** JSON pointer tokens, or the single claim name. */
  path: string[];
  values: string[];
}

/**
 * Validates bound claims and turns them into matchers.
 *
 * @throws TesseraError `ERR_VERIFY_OPTIONS` for an empty name, an empty list or a non-scalar value.
 */
export function compileBoundClaims(boundClaims: BoundClaims | undefined): CompiledBoundClaim[] {
  if (boundClaims === undefined) return [];
  if (boundClaims === null || typeof boundClaims !== 'object' || Array.isArray(boundClaims)) {
    throw new TesseraError('ERR_VERIFY_OPTIONS', 'boundClaims must be an object of claim name to value(s)');
  }
  return Object.entries(boundClaims).map(([name, value]) => {
    const list = Array.isArray(value) ? value : [value];
    if (
      name === '' ||
      list.length === 0 ||
      !list.every((item) => ['string', 'number', 'boolean'].includes(typeof item))
    ) {
      throw new TesseraError(
        'ERR_VERIFY_OPTIONS',
        `bound claim ${JSON.stringify(name.slice(0, 64))} must have a name and one or more string values`,
      );
    }
    const path = name.startsWith('/')
      ? name
          .slice(1)
          .split('/')
          .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'))
      : [name];
    return { name, path, values: list.map(String) };
  });
}

/**
 * Glob match as Vault's (`ryanuber/go-glob`): `*` matches any run of characters, including none
 * and including `/` and `:`; every other character matches itself. Linear in the input.
 */
export function globMatch(pattern: string, subject: string): boolean {
  if (!pattern.includes('*')) return pattern === subject;
  const pieces = pattern.split('*');
  const first = pieces[0] ?? '';
  const last = pieces[pieces.length - 1] ?? '';
  if (!subject.startsWith(first) || subject.length < first.length + last.length) return false;
  let at = first.length;
  for (let index = 1; index < pieces.length - 1; index += 1) {
    const piece = pieces[index] ?? '';
    const found = subject.indexOf(piece, at);
    if (found === -1) return false;
    at = found + piece.length;
  }
  return subject.length - last.length >= at && subject.endsWith(last);
}

function lookup(claims: Record<string, unknown>, path: readonly string[]): unknown {
  let value: unknown = claims;
  for (const token of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, token)) return undefined;
    value = (value as Record<string, unknown>)[token];
  }
  return value;
}

function scalars(value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const item of list) {
    if (typeof item === 'string') out.push(item);
    else if (typeof item === 'number' || typeof item === 'boolean') out.push(String(item));
  }
  return out;
}

/** How one bound claim fared against a claim set: matched, or why not. */
export interface BoundClaimOutcome {
  name: string;
  matched: boolean;
  /** The token's values of the claim (strings), or null when it is missing. */
  actual: string[] | null;
  expected: readonly string[];
  /** Why it did not match ('' when it did): the words {@link checkBoundClaims} throws. */
  reason: string;
}

/**
 * Matches one bound claim as Vault's JWT auth does: the claim must be present and one of its
 * values (a list in the token matches if any element does) must match one of the bound values.
 * The one implementation behind {@link checkBoundClaims} (verification) and the claim preview.
 */
export function matchBoundClaim(
  claims: Record<string, unknown>,
  claim: CompiledBoundClaim,
  type: BoundClaimsType,
): BoundClaimOutcome {
  const value = lookup(claims, claim.path);
  if (value === undefined || value === null) {
    return {
      name: claim.name,
      matched: false,
      actual: null,
      expected: claim.values,
      reason: `bound claim ${JSON.stringify(claim.name)} is missing from the token`,
    };
  }
  const actual = scalars(value);
  const matched = actual.some((candidate) =>
    claim.values.some((expected) =>
      type === 'glob' ? globMatch(expected, candidate) : expected === candidate,
    ),
  );
  return {
    name: claim.name,
    matched,
    actual,
    expected: claim.values,
    reason: matched
      ? ''
      : `bound claim ${JSON.stringify(claim.name)} is ${shownValue(value)} in the token, which does not match ${
          claim.values.length === 1 ? '' : 'any of '
        }${claim.values.map((expected) => shownValue(expected)).join(', ')}${type === 'glob' ? ' (glob)' : ''}`,
  };
}

/**
 * Checks every bound claim with {@link matchBoundClaim}, in order.
 *
 * @throws TesseraError `ERR_VERIFY_BOUND_CLAIM` naming the first claim that fails, its value in the
 *   token and the bound values (claims are not secret: the token holder can decode them).
 */
export function checkBoundClaims(
  claims: Record<string, unknown>,
  bound: readonly CompiledBoundClaim[],
  type: BoundClaimsType,
): void {
  for (const claim of bound) {
    const outcome = matchBoundClaim(claims, claim, type);
    if (!outcome.matched) throw new TesseraError('ERR_VERIFY_BOUND_CLAIM', outcome.reason);
  }
}

/** A claim value for a message: JSON, cut to 100 characters so a huge claim cannot flood a log. */
export function shownValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}
