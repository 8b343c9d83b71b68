import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { SigningPool } from '../../src/keys/signing-pool.js';

describe('signing pool', () => {
  it('signs RS256 and ES256 in worker threads with signatures node:crypto verifies', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pool = new SigningPool(2);
    try {
      const rs = pool.signer('rsa-kid', 'RS256', rsa.privateKey);
      const es = pool.signer('ec-kid', 'ES256', ec.privateKey);
      const inputs = Array.from({ length: 40 }, (_, index) => Buffer.from(`header.payload-${index}`));
      const signed = await Promise.all(
        inputs.map(async (input, index) => ({
          input,
          rsa: index % 2 === 0,
          signature: await (index % 2 === 0 ? rs : es).sign(input),
        })),
      );
      for (const { input, rsa: isRsa, signature } of signed) {
        const ok = isRsa
          ? verify('sha256', input, createPublicKey(rsa.privateKey), signature)
          : verify(
              'sha256',
              input,
              { key: createPublicKey(ec.privateKey), dsaEncoding: 'ieee-p1363' },
              signature,
            );
        assert.ok(ok, 'each signature belongs to its own input');
        assert.equal(signature.length, isRsa ? 256 : 64);
      }
      assert.ok(rs.sign(inputs[0]!) instanceof Promise, 'off the calling thread');
    } finally {
      await pool.close();
    }
  });

  it('signs each input as it was when sign() was called, though the caller reuses its buffer at once', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pool = new SigningPool(1);
    try {
      const signer = pool.signer('kid', 'RS256', rsa.privateKey);
      const buffer = Buffer.from('header.payload-0');
      const first = signer.sign(buffer);
      buffer.write('header.payload-1');
      const second = signer.sign(buffer);
      buffer.fill(0);
      const publicKey = createPublicKey(rsa.privateKey);
      assert.ok(verify('sha256', Buffer.from('header.payload-0'), publicKey, await first));
      assert.ok(verify('sha256', Buffer.from('header.payload-1'), publicKey, await second));
    } finally {
      await pool.close();
    }
  });

  it('signs in the calling thread when it has no workers', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signer = new SigningPool(0).signer('kid', 'RS256', rsa.privateKey);
    const signature = signer.sign(Buffer.from('a.b'));
    assert.ok(!(signature instanceof Promise));
    assert.ok(verify('sha256', Buffer.from('a.b'), createPublicKey(rsa.privateKey), signature as Uint8Array));
  });
});
