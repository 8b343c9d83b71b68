import assert from 'node:assert/strict';
import { createPublicKey, type JsonWebKey, randomBytes, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { generateSigningKeyPair } from '../../src/keys/generate-signing-key.js';
import { Keyring } from '../../src/keys/keyring.js';
import { MemorySigningKeyRepository } from '../../src/keys/memory-signing-key-repository.js';
import type { SigningKeyRecord } from '../../src/keys/signing-key-record.js';

const CACHE = 300;
const MAX_LIFETIME = 7200;
const START = Date.UTC(2026, 0, 1);

function setup(repository = new MemorySigningKeyRepository(), kek = randomBytes(32)) {
  const clock = { now: START };
  const keyring = new Keyring({
    repository,
    kek,
    clock: () => clock.now,
    jwksCachePeriod: CACHE,
    maxTokenLifetime: MAX_LIFETIME,
    refreshInterval: 5,
  });
  return { keyring, repository, clock, kek };
}

async function states(keyring: Keyring) {
  return (await keyring.list()).map((key) => `${key.alg}:${key.state}`).sort();
}

describe('Keyring', () => {
  it('first start creates a current and a next key per lineage, named by thumbprint', async () => {
    const { keyring, repository } = setup();
    await keyring.ensureKeys(['RS256', 'ES256']);
    assert.deepEqual(await states(keyring), ['ES256:current', 'ES256:next', 'RS256:current', 'RS256:next']);
    await keyring.ensureKeys(['RS256', 'ES256']);
    assert.equal((await keyring.list()).length, 4, 'ensureKeys is idempotent');
    for (const record of await repository.listSigningKeys()) {
      assert.equal(record.kid, record.publicJwk.kid);
      assert.match(record.kid, /^[A-Za-z0-9_-]{43}$/);
      assert.match(record.encryptedPrivateKey, /^v1\./);
    }
    assert.deepEqual(await keyring.algorithms(), ['RS256', 'ES256']);
  });

  it('adopts key pairs generated when a key is first needed: not before, and reads wait for them', async () => {
    const { keyring, repository } = setup();
    type Pairs = Awaited<ReturnType<Parameters<Keyring['adopt']>[0]>>;
    let calls = 0;
    let deliver: (pairs: Pairs) => void = () => undefined;
    keyring.adopt(() => {
      calls += 1;
      return new Promise<Pairs>((resolve) => {
        deliver = resolve;
      });
    });
    assert.equal(calls, 0, 'nothing is generated until a key is needed');
    let answered = false;
    const jwks = keyring.jwks().then((rendered) => {
      answered = true;
      return rendered;
    });
    const algorithms = keyring.algorithms();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(calls, 1, 'two waiting reads share one generation');
    assert.equal(answered, false, 'the JWKS waits for the adopted keys');
    assert.equal(keyring.cachedSigner('ES256'), undefined);
    const pair = await generateSigningKeyPair('ES256');
    deliver([{ state: 'current', pair }]);
    const kids = (await jwks).document.keys.map((key) => key.kid);
    assert.deepEqual(await algorithms, ['ES256']);
    const [record] = await repository.listSigningKeys();
    assert.deepEqual(kids, [record?.kid]);
    assert.equal(record?.state, 'current');
    assert.match(record?.encryptedPrivateKey ?? '', /^v1\./, 'stored sealed like a generated key');
    assert.equal((await keyring.signer('ES256')).kid, record?.kid);
    assert.equal(calls, 1);
  });

  it('a failed generation fails the reads that wait for it, with its own error', async () => {
    const { keyring } = setup();
    keyring.adopt(() => Promise.reject(new Error('no entropy')));
    await assert.rejects(keyring.signer('RS256'), /no entropy/);
    await assert.rejects(keyring.jwks(), /no entropy/);
  });

  it('publishes next and current keys with allow-listed public members only, with a stable ETag', async () => {
    const { keyring } = setup();
    await keyring.ensureKeys(['RS256', 'ES256']);
    const jwks = await keyring.jwks();
    assert.equal(jwks.document.keys.length, 4);
    for (const key of jwks.document.keys) {
      const allowed =
        key.kty === 'RSA'
          ? ['kty', 'kid', 'use', 'alg', 'n', 'e']
          : ['kty', 'kid', 'use', 'alg', 'crv', 'x', 'y'];
      assert.deepEqual(Object.keys(key), allowed);
      assert.equal(key.use, 'sig');
    }
    assert.ok(!/"(d|p|q|dp|dq|qi)"/.test(jwks.body), 'no private member');
    assert.equal(jwks.body, JSON.stringify(jwks.document));
    assert.match(jwks.etag, /^"[\w-]+"$/);
    assert.equal(await keyring.jwks(), jwks, 'cached until keys change');
  });

  it('signs with the current key; the signature verifies with the published JWK (RS256 and ES256)', async () => {
    const { keyring } = setup();
    await keyring.ensureKeys(['RS256', 'ES256']);
    const data = Buffer.from('header.payload');
    for (const alg of ['RS256', 'ES256'] as const) {
      const signer = await keyring.signer(alg);
      assert.equal(signer.alg, alg);
      const current = (await keyring.list()).find((key) => key.alg === alg && key.state === 'current');
      assert.equal(signer.kid, current?.kid);
      const signature = await signer.sign(data);
      assert.equal(signature.length, alg === 'RS256' ? 256 : 64);
      const jwk = (await keyring.jwks()).document.keys.find((key) => key.kid === signer.kid);
      const publicKey = createPublicKey({ key: jwk as unknown as JsonWebKey, format: 'jwk' });
      const key = alg === 'ES256' ? { key: publicKey, dsaEncoding: 'ieee-p1363' as const } : publicKey;
      assert.ok(verify('sha256', data, key, signature));
      assert.equal(await keyring.signer(alg), signer, 'signer is cached, no per-token key parsing');
    }
  });

  it('refuses to rotate before the next key was published for one cache period, unless forced', async () => {
    const { keyring, clock } = setup();
    await keyring.ensureKeys(['RS256']);
    clock.now += (CACHE - 1) * 1000;
    await assert.rejects(keyring.rotate('RS256'), { code: 'ERR_KEYS_STATE_INVALID' });
    clock.now += 1000;
    const before = await keyring.list();
    const result = await keyring.rotate('RS256');
    assert.equal(result.current, before.find((key) => key.state === 'next')?.kid);
    assert.equal(result.previous, before.find((key) => key.state === 'current')?.kid);
    assert.equal((await keyring.signer('RS256')).kid, result.current);
    assert.deepEqual(await states(keyring), ['RS256:current', 'RS256:next', 'RS256:previous']);
    const forced = await keyring.rotate('RS256', { force: true });
    assert.equal(forced.previous, result.current);
  });

  it('keeps a previous key published until every token it signed has expired plus the cache period, then retires it', async () => {
    const { keyring, clock } = setup();
    await keyring.ensureKeys(['RS256']);
    clock.now += CACHE * 1000;
    const { previous } = await keyring.rotate('RS256');
    assert.ok(previous);
    const rotatedAt = clock.now;
    const published = async () => (await keyring.jwks()).document.keys.map((key) => key.kid);
    assert.ok((await published()).includes(previous));
    clock.now = rotatedAt + (MAX_LIFETIME + CACHE) * 1000 - 1;
    await keyring.refresh();
    assert.ok((await published()).includes(previous), 'still within the window');
    clock.now += 1;
    assert.ok(!(await published()).includes(previous), 'gone from the JWKS exactly at retireAfter');
    await keyring.refresh();
    const key = (await keyring.list()).find((candidate) => candidate.kid === previous);
    assert.equal(key?.state, 'retired');
    assert.equal(key?.published, false);
    assert.equal(key?.retireAfter, rotatedAt + (MAX_LIFETIME + CACHE) * 1000);
  });

  it('never reuses a kid across rotations', async () => {
    const { keyring, clock } = setup();
    await keyring.ensureKeys(['ES256']);
    for (let round = 0; round < 4; round += 1) {
      clock.now += CACHE * 1000;
      await keyring.rotate('ES256');
    }
    const kids = (await keyring.list()).map((key) => key.kid);
    assert.equal(kids.length, 6);
    assert.equal(new Set(kids).size, kids.length);
  });

  it('revoking the current key removes it from the JWKS at once and promotes the next key', async () => {
    const { keyring } = setup();
    await keyring.ensureKeys(['RS256']);
    const [current, next] = ['current', 'next'].map((state) =>
      (async () => (await keyring.list()).find((key) => key.state === state)?.kid)(),
    );
    const currentKid = await current;
    const nextKid = await next;
    assert.ok(currentKid && nextKid);
    const summary = await keyring.revoke(currentKid);
    assert.equal(summary.state, 'retired');
    assert.equal(summary.published, false);
    const kids = (await keyring.jwks()).document.keys.map((key) => key.kid);
    assert.ok(!kids.includes(currentKid));
    assert.equal((await keyring.signer('RS256')).kid, nextKid);
    assert.deepEqual(await states(keyring), ['RS256:current', 'RS256:next', 'RS256:retired']);
    await assert.rejects(keyring.revoke(currentKid), { code: 'ERR_KEYS_STATE_INVALID' });
    await assert.rejects(keyring.revoke('no-such-kid'), { code: 'ERR_KEYS_NOT_FOUND' });
  });

  it('revoking a next key replaces it; revoking a previous key drops it from the JWKS before its time', async () => {
    const { keyring, clock } = setup();
    await keyring.ensureKeys(['ES256']);
    const kidIn = async (state: string) =>
      (await keyring.list()).find((key) => key.state === state)?.kid ?? '';
    const oldNext = await kidIn('next');
    await keyring.revoke(oldNext);
    const newNext = await kidIn('next');
    assert.ok(newNext && newNext !== oldNext);
    clock.now += CACHE * 1000;
    const { previous } = await keyring.rotate('ES256');
    assert.ok(previous);
    await keyring.revoke(previous);
    const published = (await keyring.jwks()).document.keys.map((key) => key.kid);
    assert.ok(!published.includes(previous) && !published.includes(oldNext));
    assert.equal(published.length, 2, 'current and next only');
  });

  it('answers ERR_KEYS_NO_SIGNING_KEY for a lineage without a current key', async () => {
    const { keyring } = setup();
    await keyring.ensureKeys(['RS256']);
    await assert.rejects(keyring.signer('ES256'), { code: 'ERR_KEYS_NO_SIGNING_KEY' });
    await assert.rejects(keyring.signer('HS256' as 'RS256'), { code: 'ERR_KEYS_ALGORITHM_UNSUPPORTED' });
  });

  it('refuses to sign with a wrong key-encryption key, without leaking key material', async () => {
    const { keyring, repository } = setup();
    await keyring.ensureKeys(['RS256']);
    const other = setup(repository, randomBytes(32)).keyring;
    await assert.rejects(other.signer('RS256'), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'ERR_KEYS_DECRYPT_FAILED');
      assert.ok(!/BEGIN|MII/.test(error.message));
      return true;
    });
  });

  it('sees changes made by another node sharing the repository after refresh or the refresh interval', async () => {
    const repository = new MemorySigningKeyRepository();
    const kek = randomBytes(32);
    const a = setup(repository, kek);
    const b = setup(repository, kek);
    await a.keyring.ensureKeys(['RS256']);
    const before = (await b.keyring.signer('RS256')).kid;
    a.clock.now += CACHE * 1000;
    const { current } = await a.keyring.rotate('RS256');
    assert.equal((await b.keyring.signer('RS256')).kid, before, 'b still uses its cached view');
    b.clock.now += 5000;
    assert.equal((await b.keyring.signer('RS256')).kid, current, 'b reloads after the refresh interval');
    assert.deepEqual((await b.keyring.jwks()).body, (await a.keyring.jwks()).body);
  });

  it('leaves exactly one current key after a rotation even if racing nodes created two', async () => {
    const repository = new MemorySigningKeyRepository();
    const kek = randomBytes(32);
    const a = setup(repository, kek);
    const b = setup(repository, kek);
    await a.keyring.ensureKeys(['ES256']);
    // What two nodes racing on a store without locking could leave: a second current key.
    const [first] = await repository.listSigningKeys();
    assert.ok(first);
    await repository.insertSigningKey({ ...first, kid: 'second-current', createdAt: first.createdAt + 1 });
    assert.equal(
      (await b.keyring.signer('ES256')).kid,
      first.kid,
      'the oldest current key signs, on every node',
    );
    a.clock.now += CACHE * 1000;
    await a.keyring.rotate('ES256');
    assert.deepEqual(await states(a.keyring), [
      'ES256:current',
      'ES256:next',
      'ES256:previous',
      'ES256:previous',
    ]);
  });

  it('rolls a failed transaction back', async () => {
    const repository = new MemorySigningKeyRepository();
    await assert.rejects(
      repository.transaction(async (tx) => {
        await tx.insertSigningKey({ kid: 'x' } as SigningKeyRecord);
        throw new Error('boom');
      }),
    );
    assert.deepEqual(await repository.listSigningKeys(), []);
  });
});
