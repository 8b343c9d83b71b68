/**
 * Verify throughput: `createVerifier().verify()` against `jose.jwtVerify` with a local JWK set
 * (same token, same keys, same issuer/audience checks) and against raw `crypto.verify` on the
 * same signing input, in the same run. Goal (issue 2): at least 3x jose.
 */

import { createPublicKey, verify } from 'node:crypto';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { TokenIssuer } from '../src/token/issue.js';
import { createVerifier } from '../src/verify/index.js';
import { memoryKeyring } from '../test/keys/fixtures/memory-keyring.js';
import { jobContext } from '../test/token/fixtures/job-context.js';
import { compare, report } from './measure.js';

const ISSUER = 'https://ci.example.com';
const AUDIENCE = 'https://vault.example.com';
const context = jobContext();

const { keyring } = await memoryKeyring();
const issuer = new TokenIssuer({
  issuer: ISSUER,
  keyring,
  audit: { recordIssuedToken: async () => undefined },
  maxLifetime: 7200,
});
const jwks = (await keyring.jwks()).document;
const joseKeys = createLocalJWKSet(jwks as unknown as JSONWebKeySet);
const verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, keySet: async () => jwks as never });

for (const alg of ['RS256', 'ES256'] as const) {
  const { token, kid } = await issuer.issue({
    context,
    audience: AUDIENCE,
    lifetime: 3600,
    alg,
    issuedVia: 'on-demand',
  });
  const dot = token.lastIndexOf('.');
  const signingInput = Buffer.from(token.slice(0, dot));
  const signature = Buffer.from(token.slice(dot + 1), 'base64url');
  const publicKey = createPublicKey({
    key: jwks.keys.find((key) => key.kid === kid) as never,
    format: 'jwk',
  });
  const rawKey = alg === 'ES256' ? { key: publicKey, dsaEncoding: 'ieee-p1363' as const } : publicKey;
  await verifier.verify(token);
  await jwtVerify(token, joseKeys, { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg] });
  const medians = await compare(
    [
      {
        name: `jose.jwtVerify ${alg}`,
        run: () => jwtVerify(token, joseKeys, { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg] }),
      },
      { name: `raw crypto.verify ${alg}`, run: () => verify('sha256', signingInput, rawKey, signature) },
      { name: `tessera verify ${alg}`, run: () => verifier.verify(token) },
    ],
    { rounds: 11, durationMs: 100 },
  );
  report(`verify ${alg}`, medians, `tessera verify ${alg}`, { [`jose.jwtVerify ${alg}`]: 3 });
}
