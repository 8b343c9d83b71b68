import { TesseraError } from '../errors.js';

/** Tokens longer than this are refused before any parsing (Tessera's own stay under 4 KB). */
export const MAX_TOKEN_LENGTH = 16 * 1024;

/** The parts of a compact JWS, decoded but not verified. */
export interface DecodedToken {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** `<header>.<payload>` exactly as received, the bytes the signature covers. */
  signingInput: string;
  signature: Buffer;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function malformed(reason: string): TesseraError {
  return new TesseraError('ERR_VERIFY_MALFORMED', `the token is not a well-formed JWS: ${reason}`);
}

/**
 * Splits a compact JWS into its three base64url segments, refusing anything else.
 * With `payloadCharset: false` / `signatureCharset: false` those parts' alphabet is left unchecked:
 * the verifier does so because it refuses non-ASCII input, verifies the signature over the exact
 * received bytes (so a foreign character in the payload fails the signature) and requires the
 * signature to be canonical base64url (which a foreign character there cannot be).
 */
export function splitToken(
  token: unknown,
  maxLength = MAX_TOKEN_LENGTH,
  options: { payloadCharset?: boolean; signatureCharset?: boolean } = {},
): [string, string, string] {
  if (typeof token !== 'string') throw malformed('it is not a string');
  if (token.length === 0) throw malformed('it is empty');
  if (token.length > maxLength) throw malformed(`it is longer than ${maxLength} characters`);
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  if (second === -1 || token.indexOf('.', second + 1) !== -1) {
    throw malformed('it must have exactly three dot-separated parts');
  }
  const parts: [string, string, string] = [
    token.slice(0, first),
    token.slice(first + 1, second),
    token.slice(second + 1),
  ];
  // An empty signature is left to the algorithm and signature checks, so `alg: none` is named as such.
  if (parts[0] === '' || parts[1] === '') throw malformed('the header or claims part is empty');
  if (
    !BASE64URL.test(parts[0]) ||
    (options.signatureCharset !== false && !BASE64URL.test(parts[2])) ||
    (options.payloadCharset !== false && !BASE64URL.test(parts[1]))
  ) {
    throw malformed('a part is not base64url');
  }
  return parts;
}

/**
 * Decodes a base64url segment holding a JSON object.
 *
 * @throws TesseraError `ERR_VERIFY_MALFORMED` naming the segment (`header` or `claims`).
 */
export function decodeJsonSegment(segment: string, what: 'header' | 'claims'): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw malformed(`the ${what} is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw malformed(`the ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Decodes a compact JWS **without verifying it** (for `tessera token decode` and diagnostics).
 *
 * @throws TesseraError `ERR_VERIFY_MALFORMED` for anything that is not three base64url parts with
 *   JSON object header and claims; the message never repeats the input.
 */
export function decodeToken(token: unknown, maxLength = MAX_TOKEN_LENGTH): DecodedToken {
  const [header, payload, signature] = splitToken(token, maxLength);
  return {
    header: decodeJsonSegment(header, 'header'),
    payload: decodeJsonSegment(payload, 'claims'),
    signingInput: `${header}.${payload}`,
    signature: Buffer.from(signature, 'base64url'),
  };
}
