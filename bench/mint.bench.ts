/**
 * Mint throughput: `TokenIssuer.issue()` (claims + sub + JSON + base64url + sign + audit record)
 * against raw `crypto.sign` on the same key and a signing input of the same size, in the same run.
 * Goals (issue 2): at least 0.9 of raw for RS256, 0.7 for ES256.
 */

import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { decryptPrivateKey } from '../src/keys/key-encryption.js';
import { TokenIssuer } from '../src/token/issue.js';
import type { IssuedTokenRepository } from '../src/token/issued-token-record.js';
import { memoryKeyring } from '../test/keys/fixtures/memory-keyring.js';
import { jobContext } from '../test/token/fixtures/job-context.js';
import { compare, report } from './measure.js';

const context = jobContext({
  environment: { name: 'production', protected: true, tier: 'production', action: 'start' },
});

const { keyring, repository, kek } = await memoryKeyring();
// An audit sink that keeps nothing, so memory stays flat; the coordinator's is a database insert.
const audit: IssuedTokenRepository = { recordIssuedToken: async () => undefined };
const issuer = new TokenIssuer({ issuer: 'https://ci.example.com', keyring, audit, maxLifetime: 7200 });

for (const alg of ['RS256', 'ES256'] as const) {
  const sample = await issuer.issue({
    context,
    audience: 'https://vault.example.com',
    lifetime: 600,
    alg,
    issuedVia: 'pre-issued',
  });
  const signingInputLength = sample.token.lastIndexOf('.');
  const record = (await repository.listSigningKeys()).find((key) => key.kid === sample.kid);
  if (!record) throw new Error('no key');
  const privateKey = createPrivateKey({
    key: decryptPrivateKey(record.encryptedPrivateKey, kek, record.kid),
    format: 'der',
    type: 'pkcs8',
  });
  const rawKey = alg === 'ES256' ? { key: privateKey, dsaEncoding: 'ieee-p1363' as const } : privateKey;
  const payload = randomBytes(signingInputLength);
  const medians = await compare(
    [
      { name: `raw crypto.sign ${alg}`, run: () => sign('sha256', payload, rawKey) },
      {
        name: `TokenIssuer.issue ${alg}`,
        run: () =>
          issuer.issue({
            context,
            audience: 'https://vault.example.com',
            lifetime: 600,
            alg,
            issuedVia: 'pre-issued',
          }),
      },
    ],
    { rounds: 11, durationMs: alg === 'RS256' ? 150 : 100 },
  );
  report(`mint ${alg} (token ${sample.token.length} bytes)`, medians, `TokenIssuer.issue ${alg}`, {
    [`raw crypto.sign ${alg}`]: alg === 'RS256' ? 0.9 : 0.7,
  });
}
