/**
 * Verify throughput: `createVerifier().verify()` against `jose.jwtVerify` with a local JWK set
 * (same tokens, same keys, same issuer/audience checks) and against raw `crypto.verify` on the
 * same signing inputs, in the same run. Each contender cycles through the same 256 distinct
 * tokens (as a relying party sees them: one header per key, every payload and signature new), so
 * nothing is measured on one token verified again and again. The contenders take turns every 50
 * verifications within each round (see `compareInterleaved`), 41 rounds; the ratios are printed
 * for wall time (the goal) and for this process's CPU time, with the median, the range and how
 * many rounds met the goal. Goal (issue 16): at least 3x jose in every run.
 */

import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { TokenIssuer } from '../src/token/issue.js';
import { createVerifier } from '../src/verify/index.js';
import { memoryKeyring } from '../test/keys/fixtures/memory-keyring.js';
import { jobContext } from '../test/token/fixtures/job-context.js';
import { compareInterleaved, report } from './measure.js';

const ISSUER = 'https://ci.example.com';
const AUDIENCE = 'https://vault.example.com';
const TOKENS = 256;
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

/** A function answering the next item of `items` on each call, round and round. */
function cycle<T>(items: readonly T[]): () => T {
  let next = 0;
  return () => {
    const item = items[next] as T;
    next = (next + 1) % items.length;
    return item;
  };
}

console.log(
  `load average ${loadavg()
    .map((value) => value.toFixed(1))
    .join(' ')} (1, 5, 15 min) on ${availableParallelism()} cores`,
);
for (const alg of ['RS256', 'ES256'] as const) {
  const tokens: string[] = [];
  let kid = '';
  for (let index = 0; index < TOKENS; index += 1) {
    const issued = await issuer.issue({
      context,
      audience: AUDIENCE,
      lifetime: 3600,
      alg,
      issuedVia: 'on-demand',
    });
    tokens.push(issued.token);
    kid = issued.kid;
  }
  const publicKey: KeyObject = createPublicKey({
    key: jwks.keys.find((key) => key.kid === kid) as never,
    format: 'jwk',
  });
  const rawKey = alg === 'ES256' ? { key: publicKey, dsaEncoding: 'ieee-p1363' as const } : publicKey;
  const raw = tokens.map((token) => {
    const dot = token.lastIndexOf('.');
    return {
      input: Buffer.from(token.slice(0, dot)),
      signature: Buffer.from(token.slice(dot + 1), 'base64url'),
    };
  });
  const joseToken = cycle(tokens);
  const tesseraToken = cycle(tokens);
  const rawInput = cycle(raw);
  const joseOptions = { issuer: ISSUER, audience: AUDIENCE, algorithms: [alg] };
  for (const token of tokens) {
    await verifier.verify(token);
    await jwtVerify(token, joseKeys, joseOptions);
  }
  const samples = await compareInterleaved(
    [
      { name: `jose.jwtVerify ${alg}`, run: () => jwtVerify(joseToken(), joseKeys, joseOptions) },
      {
        name: `raw crypto.verify ${alg}`,
        run: () => {
          const { input, signature } = rawInput();
          return verify('sha256', input, rawKey, signature);
        },
      },
      { name: `tessera verify ${alg}`, run: () => verifier.verify(tesseraToken()) },
    ],
    { rounds: 41, chunk: 50, chunksPerRound: 6 },
  );
  report(`verify ${alg}, wall time`, samples.wall, `tessera verify ${alg}`, { [`jose.jwtVerify ${alg}`]: 3 });
  report(`verify ${alg}, CPU time of this process`, samples.cpu, `tessera verify ${alg}`);
}
