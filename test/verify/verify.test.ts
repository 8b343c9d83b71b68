import assert from 'node:assert/strict';
import { createHmac, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Signer } from '../../src/keys/signer.js';
import { TokenIssuer } from '../../src/token/issue.js';
import { MemoryIssuedTokenRepository } from '../../src/token/memory-issued-token-repository.js';
import { createVerifier, type VerifierOptions } from '../../src/verify/index.js';
import { type LoopbackIssuer, startLoopbackIssuer } from '../oidc/fixtures/loopback-issuer.js';
import { jobContext } from '../token/fixtures/job-context.js';

const AUDIENCE = 'https://vault.example.com';
const START = Date.UTC(2026, 3, 1, 9, 0, 0);
const clock = { now: START };
const nowSeconds = () => Math.floor(clock.now / 1000);

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function assemble(header: unknown, payload: unknown, signWith: (input: Buffer) => Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${signWith(Buffer.from(input)).toString('base64url')}`;
}

function withSigner(signer: Signer) {
  return (input: Buffer) => Buffer.from(signer.sign(input) as Uint8Array);
}

function rsaSign(privateKey: KeyObject) {
  return (input: Buffer) => sign('sha256', input, privateKey);
}

async function expectCode(promise: Promise<unknown>, code: string, message?: string): Promise<void> {
  await assert.rejects(promise, (error: Error & { code?: string }) => {
    assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
    assert.equal(error.name, 'TesseraError');
    if (message !== undefined) assert.equal(error.message, message);
    return true;
  });
}

describe('createVerifier', () => {
  let loopback: LoopbackIssuer;
  let options: VerifierOptions;
  let rsa: Signer;
  let ec: Signer;
  const rogue = generateKeyPairSync('rsa', { modulusLength: 2048 });

  function claims(overrides: Record<string, unknown> = {}) {
    const iat = nowSeconds();
    return {
      iss: loopback.issuer,
      sub: 'project_path:acme/platform/api:ref_type:branch:ref:main',
      aud: AUDIENCE,
      iat,
      nbf: iat - 5,
      exp: iat + 300,
      project_path: 'acme/platform/api',
      ...overrides,
    };
  }

  async function mint(alg: 'RS256' | 'ES256' = 'RS256', audience: string | string[] = AUDIENCE) {
    return (
      await loopback.tokens.issue({
        context: jobContext(),
        audience,
        lifetime: 300,
        alg,
        issuedVia: 'pre-issued',
      })
    ).token;
  }

  before(async () => {
    loopback = await startLoopbackIssuer({ clock: () => clock.now });
    options = { issuer: loopback.issuer, audience: AUDIENCE, clock: () => clock.now };
    rsa = await loopback.keyring.signer('RS256');
    ec = await loopback.keyring.signer('ES256');
  });
  after(() => loopback.close());
  beforeEach(() => {
    clock.now = START;
    loopback.overrideJwks = null;
    loopback.overrideDiscovery = null;
  });

  describe('accepts', () => {
    it('RS256 and ES256 tokens minted by Tessera, through discovery on an issuer with a path', async () => {
      const verifier = createVerifier(options);
      for (const alg of ['RS256', 'ES256'] as const) {
        const verified = await verifier.verify(await mint(alg));
        assert.equal(verified.iss, loopback.issuer);
        assert.equal(verified.project_id, '22');
        assert.equal(verified.runner_id, 5);
      }
      assert.equal(loopback.hits.get('/ci/.well-known/openid-configuration'), 1);
    });

    it('an aud list containing the audience, and any of several configured audiences', async () => {
      const token = await mint('RS256', ['https://other.example.com', AUDIENCE]);
      await createVerifier(options).verify(token);
      await createVerifier({ ...options, audience: ['nope', 'https://other.example.com'] }).verify(token);
    });

    it('times within the 60 s leeway, and a custom leeway', async () => {
      const token = await mint();
      clock.now = START + (300 + 59) * 1000;
      await createVerifier(options).verify(token);
      clock.now = START - 60 * 1000;
      await createVerifier(options).verify(token);
      clock.now = START + (300 + 5) * 1000;
      await expectCode(createVerifier({ ...options, leeway: 0 }).verify(token), 'ERR_VERIFY_EXPIRED');
    });

    it('keys from a keySet function, without discovery', async () => {
      const verifier = createVerifier({
        ...options,
        issuer: loopback.issuer,
        keySet: async () => (await loopback.keyring.jwks()).document as never,
      });
      const before = loopback.hits.get('/ci/.well-known/openid-configuration') ?? 0;
      await verifier.verify(await mint('ES256'));
      assert.equal(loopback.hits.get('/ci/.well-known/openid-configuration') ?? 0, before);
    });
  });

  describe('forgery suite', () => {
    it('alg none, with or without a signature', async () => {
      const verifier = createVerifier(options);
      const input = `${b64({ alg: 'none', kid: rsa.kid, typ: 'JWT' })}.${b64(claims())}`;
      await expectCode(verifier.verify(`${input}.`), 'ERR_VERIFY_ALGORITHM');
      await expectCode(verifier.verify(`${input}.${b64('sig')}`), 'ERR_VERIFY_ALGORITHM');
      await expectCode(
        verifier.verify(`${b64({ alg: 'NONE', kid: rsa.kid })}.${b64(claims())}.`),
        'ERR_VERIFY_ALGORITHM',
      );
    });

    it('HS256 keyed with the public key', async () => {
      const publicPem = createPublicKey({
        key: (await loopback.keyring.jwks()).document.keys[0] as never,
        format: 'jwk',
      }).export({ type: 'spki', format: 'pem' });
      const token = assemble({ alg: 'HS256', kid: rsa.kid, typ: 'JWT' }, claims(), (input) =>
        createHmac('sha256', publicPem).update(input).digest(),
      );
      await expectCode(createVerifier(options).verify(token), 'ERR_VERIFY_ALGORITHM');
    });

    it('payload swapped under a valid signature', async () => {
      const [header, , signature] = (await mint()).split('.');
      const swapped = `${header}.${b64(claims({ project_path: 'acme/evil' }))}.${signature}`;
      await expectCode(createVerifier(options).verify(swapped), 'ERR_VERIFY_SIGNATURE');
    });

    it('characters outside base64url smuggled into the payload (latin1 aliasing, skipped junk)', async () => {
      const verifier = createVerifier(options);
      const [header, payload = '', signature] = (await mint()).split('.');
      const at = payload.length - 10;
      // U+0100 + c encodes to the byte c in latin1, and a base64url decoder skips it.
      const aliased = `${payload.slice(0, at)}${String.fromCharCode(0x100 + payload.charCodeAt(at))}${payload.slice(at + 1)}`;
      await expectCode(verifier.verify(`${header}.${aliased}.${signature}`), 'ERR_VERIFY_MALFORMED');
      const junk = `${payload.slice(0, at)}!${payload.slice(at)}`;
      await expectCode(verifier.verify(`${header}.${junk}.${signature}`), 'ERR_VERIFY_SIGNATURE');
      await expectCode(verifier.verify(`${header}.${payload}.${signature}!`), 'ERR_VERIFY_MALFORMED');
    });

    it('a signature respelled in non-canonical base64url (unused trailing bits set)', async () => {
      for (const alg of ['RS256', 'ES256'] as const) {
        const token = await mint(alg);
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        const last = alphabet.indexOf(token.at(-1) ?? 'A');
        const respelled = `${token.slice(0, -1)}${alphabet[last ^ 1]}`;
        await expectCode(createVerifier(options).verify(respelled), 'ERR_VERIFY_MALFORMED');
      }
    });

    it('a rogue key under the real kid', async () => {
      const token = assemble({ alg: 'RS256', kid: rsa.kid, typ: 'JWT' }, claims(), rsaSign(rogue.privateKey));
      await expectCode(createVerifier(options).verify(token), 'ERR_VERIFY_SIGNATURE');
    });

    it('a truncated or padded signature', async () => {
      const token = await mint('ES256');
      await expectCode(createVerifier(options).verify(token.slice(0, -4)), 'ERR_VERIFY_SIGNATURE');
      await expectCode(createVerifier(options).verify(`${token}AAAA`), 'ERR_VERIFY_SIGNATURE');
    });

    it('an unknown kid, refetching the JWKS at most once per interval', async () => {
      const verifier = createVerifier({ ...options, refetchInterval: 10 });
      await verifier.verify(await mint());
      const jwksPath = '/ci/oauth/discovery/keys';
      const fetches = loopback.hits.get(jwksPath) ?? 0;
      const token = assemble(
        { alg: 'RS256', kid: 'made-up', typ: 'JWT' },
        claims(),
        rsaSign(rogue.privateKey),
      );
      clock.now += 10_000;
      await expectCode(verifier.verify(token), 'ERR_VERIFY_KEY_NOT_FOUND');
      assert.equal(loopback.hits.get(jwksPath), fetches + 1, 'one refetch for the unknown kid');
      for (let attempt = 0; attempt < 5; attempt += 1)
        await expectCode(verifier.verify(token), 'ERR_VERIFY_KEY_NOT_FOUND');
      assert.equal(loopback.hits.get(jwksPath), fetches + 1, 'no refetch within the interval');
    });

    for (const name of ['jku', 'jwk', 'x5u', 'x5c']) {
      it(`a ${name} header pointing at a rogue key`, async () => {
        const rogueJwk = rogue.publicKey.export({ format: 'jwk' });
        const value =
          name === 'jwk' ? rogueJwk : name === 'x5c' ? ['MIIB'] : 'https://attacker.example/jwks.json';
        const token = assemble(
          { alg: 'RS256', kid: rsa.kid, typ: 'JWT', [name]: value },
          claims(),
          rsaSign(rogue.privateKey),
        );
        await expectCode(createVerifier(options).verify(token), 'ERR_VERIFY_HEADER');
      });
    }

    it('an unknown crit header, and a header without kid', async () => {
      const crit = assemble(
        { alg: 'RS256', kid: rsa.kid, typ: 'JWT', crit: ['exp'], exp: 1 },
        claims(),
        withSigner(rsa),
      );
      await expectCode(createVerifier(options).verify(crit), 'ERR_VERIFY_HEADER');
      const noKid = assemble({ alg: 'RS256', typ: 'JWT' }, claims(), withSigner(rsa));
      await expectCode(createVerifier(options).verify(noKid), 'ERR_VERIFY_HEADER');
    });

    it('a kid whose key is of another algorithm than the header says', async () => {
      const token = assemble({ alg: 'ES256', kid: rsa.kid, typ: 'JWT' }, claims(), withSigner(ec));
      await expectCode(createVerifier(options).verify(token), 'ERR_VERIFY_ALGORITHM');
    });

    it('an algorithm outside the configured list', async () => {
      await expectCode(
        createVerifier({ ...options, algorithms: ['ES256'] }).verify(await mint('RS256')),
        'ERR_VERIFY_ALGORITHM',
      );
    });

    it('expired, not yet valid, issued in the future', async () => {
      const token = await mint();
      const start = START / 1000;
      clock.now = START + (300 + 60) * 1000;
      // The messages give the token's time and the verifier's, as ISO and as the claim's number.
      await expectCode(
        createVerifier(options).verify(token),
        'ERR_VERIFY_EXPIRED',
        `the token expired at exp 2026-04-01T09:05:00.000Z (${start + 300}); it is now 2026-04-01T09:06:00.000Z (${start + 360}), leeway 60 s`,
      );
      clock.now = START;
      const future = assemble(
        { alg: 'RS256', kid: rsa.kid, typ: 'JWT' },
        claims({ nbf: nowSeconds() + 61 }),
        withSigner(rsa),
      );
      await expectCode(
        createVerifier(options).verify(future),
        'ERR_VERIFY_NOT_YET_VALID',
        `the token is not valid before nbf 2026-04-01T09:01:01.000Z (${start + 61}); it is now 2026-04-01T09:00:00.000Z (${start}), leeway 60 s`,
      );
      const issuedLater = assemble(
        { alg: 'RS256', kid: rsa.kid, typ: 'JWT' },
        claims({ nbf: undefined, iat: nowSeconds() + 61 }),
        withSigner(rsa),
      );
      await expectCode(
        createVerifier(options).verify(issuedLater),
        'ERR_VERIFY_ISSUED_IN_FUTURE',
        `the token was issued in the future, at iat 2026-04-01T09:01:01.000Z (${start + 61}); it is now 2026-04-01T09:00:00.000Z (${start}), leeway 60 s (check both clocks)`,
      );
    });

    it('non-integer or missing times and mistyped registered claims', async () => {
      const verifier = createVerifier(options);
      for (const overrides of [
        { exp: nowSeconds() + 1.5 },
        { exp: String(nowSeconds() + 100) },
        { exp: undefined },
        { nbf: 1.1 },
        { iat: '1' },
        { iss: 7 },
        { aud: [AUDIENCE, 1] },
        { sub: 5 },
      ]) {
        const token = assemble(
          { alg: 'RS256', kid: rsa.kid, typ: 'JWT' },
          claims(overrides),
          withSigner(rsa),
        );
        await expectCode(verifier.verify(token), 'ERR_VERIFY_CLAIM_TYPE');
      }
    });

    it('a wrong issuer', async () => {
      const other = new TokenIssuer({
        issuer: `${loopback.issuer}/`,
        keyring: loopback.keyring,
        audit: new MemoryIssuedTokenRepository(),
        clock: () => clock.now,
        maxLifetime: 600,
      });
      const { token } = await other.issue({
        context: jobContext(),
        audience: AUDIENCE,
        lifetime: 60,
        issuedVia: 'on-demand',
      });
      await expectCode(
        createVerifier(options).verify(token),
        'ERR_VERIFY_ISSUER',
        `iss "${loopback.issuer}/" is not the expected issuer "${loopback.issuer}" (they must match byte for byte)`,
      );
    });

    it('a wrong or missing audience', async () => {
      await expectCode(
        createVerifier(options).verify(await mint('RS256', 'https://elsewhere.example.com')),
        'ERR_VERIFY_AUDIENCE',
        'aud "https://elsewhere.example.com" does not contain the expected audience "https://vault.example.com"',
      );
      await expectCode(
        createVerifier({ ...options, audience: [AUDIENCE, 'b'] }).verify(
          await mint('RS256', [`${AUDIENCE}/`, 'x']),
        ),
        'ERR_VERIFY_AUDIENCE',
        'aud ["https://vault.example.com/","x"] does not contain the expected audience any of ["https://vault.example.com","b"]',
      );
      const none = assemble(
        { alg: 'RS256', kid: rsa.kid, typ: 'JWT' },
        claims({ aud: undefined }),
        withSigner(rsa),
      );
      await expectCode(createVerifier(options).verify(none), 'ERR_VERIFY_AUDIENCE');
    });

    it('malformed input of every shape', async () => {
      const verifier = createVerifier(options);
      const signedGarbage = `${b64({ alg: 'RS256', kid: rsa.kid })}.${b64('not json')}`;
      const garbageToken = `${signedGarbage}.${Buffer.from(rsa.sign(Buffer.from(signedGarbage)) as Uint8Array).toString('base64url')}`;
      const inputs: unknown[] = [
        '',
        'abc',
        'a.b',
        'a.b.c.d',
        '..',
        '.a.b',
        'a..b',
        'a b.c.d',
        'éé.a.b',
        `${b64('x')}.${b64('{}')}.c`,
        `${b64('[1]')}.${b64('{}')}.c`,
        `${b64('null')}.${b64('{}')}.c`,
        garbageToken,
        undefined,
        null,
        42,
        {},
        ['a', 'b', 'c'],
      ];
      for (const input of inputs) await expectCode(verifier.verify(input as string), 'ERR_VERIFY_MALFORMED');
    });

    it('megabyte-sized input, refused before parsing', async () => {
      const huge = `${'a'.repeat(512 * 1024)}.${'b'.repeat(512 * 1024)}.c`;
      const started = process.hrtime.bigint();
      await expectCode(createVerifier(options).verify(huge), 'ERR_VERIFY_MALFORMED');
      assert.ok(process.hrtime.bigint() - started < 1_000_000_000n);
    });

    it('never puts the token into an error message', async () => {
      const token = await mint();
      clock.now = START + 3600 * 1000;
      await assert.rejects(createVerifier(options).verify(token), (error: Error) => {
        assert.ok(!error.message.includes(token.split('.')[2] ?? 'x'));
        assert.ok(!error.message.includes(token.split('.')[1] ?? 'x'));
        return true;
      });
    });
  });

  describe('bound claims', () => {
    const verify = async (
      boundClaims: VerifierOptions['boundClaims'],
      type?: 'string' | 'glob',
      extra: Record<string, unknown> = {},
    ) => {
      const token = assemble(
        { alg: 'RS256', kid: rsa.kid, typ: 'JWT' },
        claims({
          ref: 'main',
          groups: ['acme', 'acme/platform'],
          nested: { env: 'prod' },
          runner_id: 5,
          ...extra,
        }),
        withSigner(rsa),
      );
      return createVerifier({ ...options, boundClaims, boundClaimsType: type }).verify(token);
    };

    it('match exactly, by any listed value, against any element of a list claim, and through JSON pointers', async () => {
      await verify({ project_path: 'acme/platform/api', ref: ['dev', 'main'] });
      await verify({ groups: 'acme/platform' });
      await verify({ '/nested/env': 'prod', runner_id: '5' });
    });

    it('match by glob with *', async () => {
      await verify({ project_path: 'acme/*', sub: 'project_path:acme/*:ref_type:branch:ref:*' }, 'glob');
      await verify({ project_path: '*/api' }, 'glob');
      await verify({ project_path: 'acme/*/api' }, 'glob');
    });

    it('refuse a mismatch, a missing claim, and a glob under string matching', async () => {
      await expectCode(
        verify({ ref: 'dev' }),
        'ERR_VERIFY_BOUND_CLAIM',
        'bound claim "ref" is "main" in the token, which does not match "dev"',
      );
      await expectCode(
        verify({ groups: ['other', 'x/*'] }, 'glob'),
        'ERR_VERIFY_BOUND_CLAIM',
        'bound claim "groups" is ["acme","acme/platform"] in the token, which does not match any of "other", "x/*" (glob)',
      );
      await expectCode(verify({ environment: 'production' }), 'ERR_VERIFY_BOUND_CLAIM');
      await expectCode(verify({ project_path: 'acme/*' }), 'ERR_VERIFY_BOUND_CLAIM');
      await expectCode(verify({ project_path: 'other/*' }, 'glob'), 'ERR_VERIFY_BOUND_CLAIM');
      await expectCode(verify({ '/nested/missing': 'x' }), 'ERR_VERIFY_BOUND_CLAIM');
      await expectCode(verify({ ['__proto__']: 'x' } as never), 'ERR_VERIFY_BOUND_CLAIM');
    });
  });

  describe('key set', () => {
    it('picks up a rotated key through a refetch on its unknown kid', async () => {
      const verifier = createVerifier({ ...options, refetchInterval: 10 });
      await verifier.verify(await mint());
      await loopback.keyring.rotate('RS256', { force: true });
      await loopback.keyring.rotate('RS256', { force: true });
      await loopback.keyring.refresh();
      const rotated = await mint();
      await expectCode(verifier.verify(rotated), 'ERR_VERIFY_KEY_NOT_FOUND');
      clock.now += 10_000;
      await verifier.verify(rotated);
    });

    it('keeps verifying with cached keys when a refresh fails (stale-if-error)', async () => {
      const verifier = createVerifier({ ...options, jwksMaxAge: 30, refetchInterval: 10 });
      const token = await mint('ES256');
      await verifier.verify(token);
      loopback.overrideJwks = 'not json';
      clock.now += 31_000;
      await verifier.verify(token);
    });

    it('refuses a discovery document naming another issuer, or an unreachable issuer', async () => {
      loopback.overrideDiscovery = JSON.stringify({
        issuer: 'https://evil.example.com',
        jwks_uri: `${loopback.issuer}/oauth/discovery/keys`,
      });
      await expectCode(
        createVerifier(options).verify(await mint()),
        'ERR_VERIFY_DISCOVERY',
        `the discovery document at ${loopback.issuer}/.well-known/openid-configuration names the issuer "https://evil.example.com", not the expected "${loopback.issuer}" (they must match byte for byte)`,
      );
      await expectCode(
        createVerifier({ ...options, issuer: `${loopback.issuer}/nothing-here` }).verify(await mint()),
        'ERR_VERIFY_DISCOVERY',
      );
    });

    it('ignores keys it must not use: RSA under 2048 bits, private JWKs, duplicated kids', async () => {
      const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
      const smallJwk = { ...small.publicKey.export({ format: 'jwk' }), kid: 'small', use: 'sig' };
      const privateJwk = { ...rogue.privateKey.export({ format: 'jwk' }), kid: 'private' };
      const real = (await loopback.keyring.jwks()).document.keys;
      const current = await loopback.keyring.signer('RS256');
      const dup = { ...rogue.publicKey.export({ format: 'jwk' }), kid: current.kid };
      loopback.overrideJwks = JSON.stringify({ keys: [smallJwk, privateJwk, ...real, dup] });
      const verifier = createVerifier(options);
      await expectCode(
        verifier.verify(
          assemble({ alg: 'RS256', kid: 'small', typ: 'JWT' }, claims(), rsaSign(small.privateKey)),
        ),
        'ERR_VERIFY_KEY_NOT_FOUND',
      );
      await expectCode(
        verifier.verify(
          assemble({ alg: 'RS256', kid: 'private', typ: 'JWT' }, claims(), rsaSign(rogue.privateKey)),
        ),
        'ERR_VERIFY_KEY_NOT_FOUND',
      );
      await expectCode(verifier.verify(await mint('RS256')), 'ERR_VERIFY_KEY_NOT_FOUND');
      await verifier.verify(await mint('ES256'));
    });
  });

  describe('options', () => {
    const bad: Partial<VerifierOptions>[] = [
      { issuer: '' },
      { issuer: 'ci.example.com' },
      { audience: '' },
      { audience: [] },
      { algorithms: ['HS256' as 'RS256'] },
      { algorithms: [] },
      { boundClaimsType: 'regex' as 'glob' },
      { boundClaims: { ref: [] } },
      { boundClaims: { ref: { a: 1 } as never } },
      { leeway: -1 },
    ];
    for (const override of bad) {
      it(`refuses ${JSON.stringify(override)}`, () => {
        assert.throws(
          () => createVerifier({ issuer: 'https://ci.example.com', audience: 'x', ...override }),
          { code: 'ERR_VERIFY_OPTIONS' },
        );
      });
    }
  });
});
