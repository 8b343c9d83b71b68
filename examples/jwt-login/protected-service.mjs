#!/usr/bin/env node
// A tiny JWT-protected HTTP service: it answers 200 only to requests that carry a Tessera ID token
// for its audience, and 401 with a reason otherwise. It uses nothing but Node's standard library so
// that you can read every check it makes. For a real service, use the `tessera-ci/verify` library.
//
// Settings (environment):
//   EXPECTED_ISSUER     the issuer URL, exactly as in the tokens' `iss` (required)
//   SERVICE_AUDIENCE    the audience this service accepts (required)
//   BOUND_PROJECT_PATH  if set, `project_path` must equal it
//   REQUIRE_PROTECTED   if "true", `ref_protected` must be "true"
//   PORT                port to listen on, 0 (the default) for any free port
//   PORT_FILE           if set, the chosen port is written there once the service listens
import { createPublicKey, verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

const issuer = required('EXPECTED_ISSUER');
const audience = required('SERVICE_AUDIENCE');
const boundProjectPath = process.env.BOUND_PROJECT_PATH || null;
const requireProtected = process.env.REQUIRE_PROTECTED === 'true';
const LEEWAY_SECONDS = 60;
const ALGORITHMS = { RS256: 'RSA', ES256: 'EC' };
const REFETCH_INTERVAL_MS = 10_000;

function required(name) {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`protected-service: ${name} must be set\n`);
    process.exit(2);
  }
  return value;
}

class Refusal extends Error {}

function refuse(reason) {
  throw new Refusal(reason);
}

function decodePart(part, what) {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return refuse(`${what} is not base64url JSON`);
  }
}

// Discovery and JWKS, cached; refetched when a token names an unknown kid, at most every 10 s.
let keys = new Map();
let fetchedAt = 0;

async function fetchJson(url) {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) refuse(`GET ${url} answered ${response.status}`);
  return response.json();
}

async function refreshKeys() {
  fetchedAt = Date.now();
  const discovery = await fetchJson(`${issuer}/.well-known/openid-configuration`);
  // The discovery document must name the issuer we trust, byte for byte.
  if (discovery.issuer !== issuer) refuse(`discovery names issuer ${discovery.issuer}, expected ${issuer}`);
  const jwks = await fetchJson(discovery.jwks_uri);
  keys = new Map((jwks.keys ?? []).map((jwk) => [jwk.kid, jwk]));
}

async function keyFor(kid) {
  if (!keys.has(kid) && Date.now() - fetchedAt > REFETCH_INTERVAL_MS) await refreshKeys();
  return keys.get(kid) ?? refuse(`no key with kid ${kid} in the issuer's JWKS`);
}

async function verifyToken(token) {
  const parts = token.split('.');
  if (parts.length !== 3) refuse('not a compact JWS');
  const header = decodePart(parts[0], 'header');
  const claims = decodePart(parts[1], 'payload');

  // The algorithm is taken from an allow-list, never trusted from the token alone; keys come only
  // from the issuer's JWKS, never from jku/jwk/x5u headers.
  if (!Object.hasOwn(ALGORITHMS, header.alg)) refuse(`algorithm ${header.alg} is not accepted`);
  for (const name of ['jku', 'jwk', 'x5u', 'x5c', 'crit'])
    if (name in header) refuse(`header ${name} refused`);
  if (typeof header.kid !== 'string') refuse('no kid in the header');
  const jwk = await keyFor(header.kid);
  if (jwk.kty !== ALGORITHMS[header.alg] || (jwk.alg && jwk.alg !== header.alg)) {
    refuse('the key does not match the algorithm');
  }
  const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
  const signature = Buffer.from(parts[2], 'base64url');
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const options = header.alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key;
  if (!verify('sha256', signed, options, signature)) refuse('bad signature');

  // Registered claims.
  if (claims.iss !== issuer) refuse(`iss is ${claims.iss}, expected ${issuer}`);
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(audience)) refuse(`aud is ${JSON.stringify(claims.aud)}, expected ${audience}`);
  const now = Math.floor(Date.now() / 1000);
  for (const name of ['exp', 'nbf', 'iat'])
    if (!Number.isInteger(claims[name])) refuse(`${name} is not an integer`);
  if (claims.exp + LEEWAY_SECONDS <= now) refuse('token expired');
  if (claims.nbf - LEEWAY_SECONDS > now) refuse('token not yet valid');
  if (claims.iat - LEEWAY_SECONDS > now) refuse('token issued in the future');

  // Who may come in: bind to the project, and to protected refs when asked.
  if (boundProjectPath && claims.project_path !== boundProjectPath) {
    refuse(`project_path ${claims.project_path} is not ${boundProjectPath}`);
  }
  if (requireProtected && claims.ref_protected !== 'true') refuse('the ref is not protected');
  return claims;
}

function answer(response, status, body) {
  const headers = { 'content-type': 'application/json' };
  if (status === 401) headers['www-authenticate'] = `Bearer error="invalid_token"`;
  response.writeHead(status, headers);
  response.end(`${JSON.stringify(body)}\n`);
}

const server = createServer(async (request, response) => {
  const match = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(request.headers.authorization ?? '');
  if (!match) return answer(response, 401, { error: 'no bearer token' });
  try {
    const claims = await verifyToken(match[1]);
    answer(response, 200, {
      message: `hello ${claims.project_path}`,
      sub: claims.sub,
      ref: claims.ref,
      ref_protected: claims.ref_protected,
      job_id: claims.job_id,
    });
  } catch (error) {
    if (error instanceof Refusal) return answer(response, 401, { error: error.message });
    answer(response, 502, { error: 'could not check the token' });
  }
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address();
  if (process.env.PORT_FILE) writeFileSync(process.env.PORT_FILE, `${port}\n`);
  process.stdout.write(`protected-service: listening on http://127.0.0.1:${port}, audience ${audience}\n`);
});
