import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import jwt from 'jsonwebtoken';
import { JwksClient } from 'jwks-rsa';
import type { Keyring } from '../../src/keys/keyring.js';
import { TokenIssuer } from '../../src/token/issue.js';
import { MemoryIssuedTokenRepository } from '../../src/token/memory-issued-token-repository.js';
import { memoryKeyring } from '../keys/fixtures/memory-keyring.js';
import { type LoopbackIssuer, startLoopbackIssuer } from '../oidc/fixtures/loopback-issuer.js';
import { jobContext } from './fixtures/job-context.js';

const NOW = Date.UTC(2026, 2, 1, 12, 0, 0, 750);

function decode(token: string) {
  const [header, payload, signature] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header ?? '', 'base64url').toString()),
    payload: JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()),
    signature: Buffer.from(signature ?? '', 'base64url'),
  };
}

describe('TokenIssuer', () => {
  let keyring: Keyring;
  let audit: MemoryIssuedTokenRepository;
  let issuer: TokenIssuer;

  before(async () => {
    ({ keyring } = await memoryKeyring({ clock: () => NOW }));
    audit = new MemoryIssuedTokenRepository();
    issuer = new TokenIssuer({
      issuer: 'https://ci.example.com',
      keyring,
      audit,
      clock: () => NOW,
      maxLifetime: 3600,
    });
  });

  it('mints a token with header exactly {alg, kid, typ}, integer times and a UUIDv4 jti', async () => {
    const result = await issuer.issue({
      context: jobContext(),
      audience: 'https://vault.example.com',
      lifetime: 600,
      issuedVia: 'pre-issued',
    });
    const { header, payload, signature } = decode(result.token);
    assert.deepEqual(Object.keys(header), ['alg', 'kid', 'typ']);
    assert.deepEqual(header, { alg: 'RS256', kid: (await keyring.signer('RS256')).kid, typ: 'JWT' });
    const iat = Math.floor(NOW / 1000);
    assert.equal(payload.iat, iat);
    assert.equal(payload.nbf, iat - 5);
    assert.equal(payload.exp, iat + 600);
    assert.match(payload.jti, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(payload, result.claims);
    assert.equal(result.jti, payload.jti);
    assert.equal(result.kid, header.kid);
    assert.equal(result.exp, payload.exp);
    assert.equal(signature.length, 256);
    assert.ok(result.token.length < 4096);
  });

  it('signs with ES256 when asked, with a 64-byte raw signature', async () => {
    const result = await issuer.issue({
      context: jobContext(),
      audience: ['a', 'b'],
      lifetime: 60,
      alg: 'ES256',
      issuedVia: 'on-demand',
    });
    const { header, payload, signature } = decode(result.token);
    assert.equal(header.alg, 'ES256');
    assert.equal(signature.length, 64);
    assert.deepEqual(payload.aud, ['a', 'b']);
  });

  it('records an audit entry per token and never the token', async () => {
    const before = audit.records.length;
    const result = await issuer.issue({
      context: jobContext(),
      audience: 'x',
      lifetime: 60,
      issuedVia: 'on-demand',
    });
    assert.equal(audit.records.length, before + 1);
    const record = audit.records.at(-1);
    assert.deepEqual(record, {
      jti: result.jti,
      projectId: 22,
      pipelineId: 101,
      jobId: 1001,
      aud: ['x'],
      sub: 'project_path:acme/platform/api:ref_type:branch:ref:main',
      kid: result.kid,
      alg: 'RS256',
      iat: Math.floor(NOW / 1000),
      exp: result.exp,
      issuedVia: 'on-demand',
    });
    const signature = result.token.split('.')[2] ?? '';
    assert.ok(!JSON.stringify(audit.records).includes(signature));
  });

  it('refuses bad audiences, lifetimes and algorithms', async () => {
    const request = { context: jobContext(), audience: 'x', lifetime: 60, issuedVia: 'pre-issued' as const };
    for (const audience of ['', '  ', [], [''], ['a', 3], 42, null]) {
      await assert.rejects(issuer.issue({ ...request, audience: audience as string }), {
        code: 'ERR_TOKEN_AUDIENCE_INVALID',
      });
    }
    for (const lifetime of [0, -1, 1.5, 3601, Number.NaN, '60']) {
      await assert.rejects(issuer.issue({ ...request, lifetime: lifetime as number }), {
        code: 'ERR_TOKEN_LIFETIME_INVALID',
      });
    }
    await assert.rejects(issuer.issue({ ...request, alg: 'HS256' as 'RS256' }), {
      code: 'ERR_KEYS_ALGORITHM_UNSUPPORTED',
    });
  });

  it('refuses a token that would reach 4 KB', async () => {
    const audience = Array.from({ length: 4 }, (_, index) => `https://${index}.${'a'.repeat(800)}.example`);
    const before = audit.records.length;
    await assert.rejects(
      issuer.issue({ context: jobContext(), audience, lifetime: 60, issuedVia: 'pre-issued' }),
      {
        code: 'ERR_TOKEN_TOO_LARGE',
      },
    );
    assert.equal(audit.records.length, before, 'nothing audited for a refused token');
  });

  it('propagates a burned project path', async () => {
    const context = jobContext({ project: { ...jobContext().project, pathReused: true } });
    await assert.rejects(issuer.issue({ context, audience: 'x', lifetime: 60, issuedVia: 'pre-issued' }), {
      code: 'ERR_TOKEN_SUB_PATH_BURNED',
    });
  });
});

describe('interoperability: jsonwebtoken + jwks-rsa against a loopback JWKS', () => {
  let loopback: LoopbackIssuer;
  before(async () => {
    loopback = await startLoopbackIssuer();
  });
  after(() => loopback.close());

  for (const alg of ['RS256', 'ES256'] as const) {
    it(`accepts a Tessera ${alg} token`, async () => {
      const { token } = await loopback.tokens.issue({
        context: jobContext(),
        audience: 'https://vault.example.com',
        lifetime: 300,
        alg,
        issuedVia: 'pre-issued',
      });
      const discovery = (await (
        await fetch(`${loopback.issuer}/.well-known/openid-configuration`)
      ).json()) as {
        jwks_uri: string;
        issuer: string;
      };
      assert.equal(discovery.issuer, loopback.issuer);
      const client = new JwksClient({ jwksUri: discovery.jwks_uri, cache: false });
      const decoded = jwt.decode(token, { complete: true });
      const key = await client.getSigningKey(decoded?.header.kid);
      const claims = jwt.verify(token, key.getPublicKey(), {
        algorithms: [alg],
        issuer: loopback.issuer,
        audience: 'https://vault.example.com',
      }) as jwt.JwtPayload;
      assert.equal(claims.sub, 'project_path:acme/platform/api:ref_type:branch:ref:main');
      assert.equal(claims.project_id, '22');
    });
  }
});
