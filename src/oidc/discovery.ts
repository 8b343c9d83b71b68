import { SIGNING_ALGORITHM_NAMES, type SigningAlgorithm } from '../keys/algorithms.js';
import { CLAIM_NAMES } from '../token/claims.js';

/** The OpenID Provider metadata Tessera publishes (DESIGN 4). */
export interface DiscoveryDocument {
  issuer: string;
  jwks_uri: string;
  response_types_supported: ['id_token'];
  subject_types_supported: ['public'];
  id_token_signing_alg_values_supported: SigningAlgorithm[];
  claims_supported: string[];
  introspection_endpoint: string;
}

/** Path of the discovery document below the issuer (OpenID Connect Discovery 1.0, section 4). */
export const DISCOVERY_PATH = '/.well-known/openid-configuration';
/** Path of the JWKS below the issuer (GitLab's, so relying-party setups carry over). */
export const JWKS_PATH = '/oauth/discovery/keys';
/** Path of the RFC 7662 introspection endpoint below the issuer. */
export const INTROSPECTION_PATH = '/oauth/introspect';

/**
 * Appends `path` to the issuer URL, keeping any path prefix (`https://ci.example.com/tessera` →
 * `https://ci.example.com/tessera/oauth/discovery/keys`); `new URL(path, issuer)` would drop the prefix.
 *
 * @throws TypeError when the issuer is not an absolute http(s) URL without query, fragment or trailing slash.
 */
export function issuerEndpoint(issuer: string, path: string): string {
  const url = parseIssuer(issuer);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  return url.href;
}

function parseIssuer(issuer: string): URL {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new TypeError('issuer must be an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError('issuer must be http(s)');
  if (url.search || url.hash || issuer.includes('?') || issuer.includes('#')) {
    throw new TypeError('issuer must not carry a query or fragment');
  }
  if (issuer.endsWith('/')) throw new TypeError('issuer must not end with a slash');
  return url;
}

/**
 * Builds the discovery document for `issuer` (byte-exact, as configured) and the algorithms that
 * have a signing key. Serve it at `<issuer>/.well-known/openid-configuration`.
 */
export function buildDiscoveryDocument(options: {
  issuer: string;
  algorithms?: readonly SigningAlgorithm[];
}): DiscoveryDocument {
  const algorithms = options.algorithms ?? ['RS256'];
  if (algorithms.length === 0 || !algorithms.every((alg) => SIGNING_ALGORITHM_NAMES.includes(alg))) {
    throw new TypeError('buildDiscoveryDocument: algorithms must be a non-empty list of RS256/ES256');
  }
  return {
    issuer: options.issuer,
    jwks_uri: issuerEndpoint(options.issuer, JWKS_PATH),
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: SIGNING_ALGORITHM_NAMES.filter((alg) => algorithms.includes(alg)),
    claims_supported: [...CLAIM_NAMES],
    introspection_endpoint: issuerEndpoint(options.issuer, INTROSPECTION_PATH),
  };
}
