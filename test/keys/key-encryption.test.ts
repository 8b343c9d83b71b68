import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  decryptPrivateKey,
  encryptPrivateKey,
  loadKeyEncryptionKey,
  parseKeyEncryptionKey,
} from '../../src/keys/key-encryption.js';

const secret = Buffer.from('-----PRIVATE KEY MATERIAL 0123456789-----');

describe('key encryption', () => {
  const kek = randomBytes(32);

  it('round-trips and never stores the plaintext', () => {
    const blob = encryptPrivateKey(secret, kek, 'kid-1');
    assert.match(blob, /^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.ok(!blob.includes(secret.toString('base64url')));
    assert.deepEqual(decryptPrivateKey(blob, kek, 'kid-1'), secret);
    assert.notEqual(encryptPrivateKey(secret, kek, 'kid-1'), blob, 'fresh IV each time');
  });

  it('refuses a wrong KEK, a tampered blob, another record and garbage with ERR_KEYS_DECRYPT_FAILED', () => {
    const blob = encryptPrivateKey(secret, kek, 'kid-1');
    const parts = blob.split('.');
    const body = Buffer.from(parts[2] ?? '', 'base64url');
    body[0] = (body[0] ?? 0) ^ 1;
    const tampered = [parts[0], parts[1], body.toString('base64url'), parts[3]].join('.');
    const cases = [
      () => decryptPrivateKey(blob, randomBytes(32), 'kid-1'),
      () => decryptPrivateKey(tampered, kek, 'kid-1'),
      () => decryptPrivateKey(blob, kek, 'kid-2'),
      () => decryptPrivateKey('v1.x.y', kek, 'kid-1'),
      () => decryptPrivateKey('not a blob', kek),
    ];
    for (const attempt of cases) {
      assert.throws(attempt, (error: Error & { code?: string }) => {
        assert.equal(error.code, 'ERR_KEYS_DECRYPT_FAILED');
        assert.ok(!error.message.includes('PRIVATE'));
        assert.ok(!error.message.includes(kek.toString('base64')));
        return true;
      });
    }
  });

  it('parses hex and base64 KEKs and refuses anything else without echoing it', () => {
    const key = randomBytes(32);
    assert.deepEqual(parseKeyEncryptionKey(key.toString('hex')), key);
    assert.deepEqual(parseKeyEncryptionKey(key.toString('base64')), key);
    assert.deepEqual(parseKeyEncryptionKey(` ${key.toString('base64url')}\n`), key);
    for (const bad of [
      '',
      'abc',
      randomBytes(16).toString('hex'),
      randomBytes(31).toString('base64'),
      'z'.repeat(64),
    ]) {
      assert.throws(
        () => parseKeyEncryptionKey(bad),
        (error: Error & { code?: string }) =>
          error.code === 'ERR_KEYS_KEK_INVALID' && (bad === '' || !error.message.includes(bad)),
      );
    }
  });

  describe('loadKeyEncryptionKey', () => {
    let dir = '';
    after(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('prefers TESSERA_KEY_ENCRYPTION_KEY', async () => {
      const key = randomBytes(32);
      const loaded = await loadKeyEncryptionKey({
        env: { TESSERA_KEY_ENCRYPTION_KEY: key.toString('hex') },
        dataDir: '/nonexistent',
      });
      assert.deepEqual(loaded, { key, source: 'env' });
    });

    it('creates <dataDir>/key-encryption-key with mode 0600 once, then reads it back', async () => {
      dir = await mkdtemp(join(tmpdir(), 'tessera-kek-'));
      const dataDir = join(dir, 'data');
      const [first, second] = await Promise.all([
        loadKeyEncryptionKey({ env: {}, dataDir }),
        loadKeyEncryptionKey({ env: {}, dataDir }),
      ]);
      assert.deepEqual(first.key, second.key, 'concurrent starts agree on one key');
      assert.deepEqual([first.source, second.source].sort(), ['created', 'file']);
      const path = join(dataDir, 'key-encryption-key');
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.deepEqual(parseKeyEncryptionKey(await readFile(path, 'utf8')), first.key);
      const third = await loadKeyEncryptionKey({ env: { TESSERA_KEY_ENCRYPTION_KEY: '' }, dataDir });
      assert.equal(third.source, 'file');
      assert.deepEqual(third.key, first.key);
    });
  });
});
