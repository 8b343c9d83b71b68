import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startServer } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config/load.js';
import { testDialects } from '../store/dialects.js';

const BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
const run = promisify(execFile);
const [sqlite] = testDialects();

async function tessera(...args: string[]) {
  const env = { ...process.env };
  delete env.TESSERA_KEY_ENCRYPTION_KEY;
  delete env.TESSERA_DATABASE_URL;
  return run(process.execPath, [BIN, ...args], { env, encoding: 'utf8' });
}

describe('tessera keys and tessera oidc export', () => {
  it('lists, rotates and revokes keys in the store serve uses, and exports the OIDC documents', async () => {
    const { dataDir } = await sqlite!.freshLocation();
    const config = loadConfig({ host: '127.0.0.1', port: 0, dataDir, logLevel: 'silent' }, {});
    const server = await startServer(config, { env: {}, notice: () => {} });
    await server.close();

    const listed = JSON.parse(
      (await tessera('keys', 'list', '--data-dir', dataDir, '--json')).stdout,
    ) as Array<{
      kid: string;
      alg: string;
      state: string;
      created_at: string;
      activated_at: string | null;
    }>;
    // The API's shape: snake_case names and ISO 8601 times.
    assert.deepEqual(Object.keys(listed[0]!), [
      'kid',
      'alg',
      'state',
      'published',
      'created_at',
      'activated_at',
      'deactivated_at',
      'retire_after',
      'revoked_at',
    ]);
    assert.match(listed[0]!.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(listed.map((key) => `${key.alg}:${key.state}`).sort(), [
      'ES256:current',
      'ES256:next',
      'RS256:current',
      'RS256:next',
    ]);
    const table = (await tessera('keys', 'list', '--data-dir', dataDir)).stdout;
    assert.match(table, /^KID\s+ALG\s+STATE/);
    assert.ok(!/PRIVATE|"d"/.test(table));

    const rotated = await tessera('keys', 'rotate', '--alg', 'ES256', '--force', '--data-dir', dataDir);
    assert.match(rotated.stdout, /^rotated ES256: current \S+, previous \S+, next \S+/);
    const current = listed.find((key) => key.alg === 'RS256' && key.state === 'current')!;
    const revoked = await tessera('keys', 'revoke', current.kid, '--data-dir', dataDir);
    assert.equal(revoked.stdout, `revoked ${current.kid} (RS256)\n`);
    // A kid may begin with "-" (base64url): it is still read as the kid, not as an option.
    await assert.rejects(
      tessera('keys', 'revoke', '-Mjuz0', '--data-dir', dataDir),
      (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 1);
        assert.match(error.stderr, /^ERR_KEYS_NOT_FOUND: no signing key has kid "-Mjuz0"/);
        return true;
      },
    );
    await assert.rejects(
      tessera('keys', 'revoke', 'nope', '--data-dir', dataDir),
      (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 1);
        assert.match(error.stderr, /^ERR_KEYS_NOT_FOUND: /);
        return true;
      },
    );

    const out = join(dataDir, 'export');
    await tessera('oidc', 'export', out, '--issuer', 'https://ci.example.com/tessera', '--data-dir', dataDir);
    const discovery = JSON.parse(await readFile(join(out, '.well-known', 'openid-configuration'), 'utf8'));
    assert.equal(discovery.issuer, 'https://ci.example.com/tessera');
    assert.equal(discovery.jwks_uri, 'https://ci.example.com/tessera/oauth/discovery/keys');
    const jwks = JSON.parse(await readFile(join(out, 'oauth', 'discovery', 'keys'), 'utf8')) as {
      keys: Array<{ kid: string }>;
    };
    assert.ok(!jwks.keys.some((key) => key.kid === current.kid), 'a revoked key leaves the JWKS');
  });

  it('never creates a store: run elsewhere, it names the directory it looked at and changes nothing', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'tessera-keys-elsewhere-'));
    const env = { ...process.env };
    delete env.TESSERA_DATA_DIR;
    delete env.TESSERA_DATABASE_URL;
    delete env.TESSERA_KEY_ENCRYPTION_KEY;
    try {
      for (const args of [
        ['keys', 'rotate', '--force'],
        ['keys', 'list'],
        ['oidc', 'export', 'out'],
      ]) {
        await assert.rejects(
          run(process.execPath, [BIN, ...args], {
            cwd,
            env,
            encoding: 'utf8',
          }),
          (error: { code: number; stdout: string; stderr: string }) => {
            assert.equal(error.code, 1, error.stderr);
            assert.equal(error.stdout, '');
            assert.equal(
              error.stderr,
              `ERR_STORE_NOT_FOUND: no Tessera store in ${join(cwd, 'data')} (it has no tessera.db), and this command does not create one: ` +
                'give --data-dir (TESSERA_DATA_DIR) the data directory of tessera serve, or --database (TESSERA_DATABASE_URL) its PostgreSQL URL\n',
            );
            return true;
          },
        );
      }
      assert.equal(existsSync(join(cwd, 'data')), false);
      assert.equal(existsSync(join(cwd, 'out')), false);
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  it('does not rotate with a key-encryption key that cannot open the lineage, and says where that key came from', async () => {
    const { dataDir } = await sqlite!.freshLocation();
    const config = loadConfig({ host: '127.0.0.1', port: 0, dataDir, logLevel: 'silent' }, {});
    await (await startServer(config, { env: {}, notice: () => {} })).close();
    const before = (await tessera('keys', 'list', '--data-dir', dataDir, '--json')).stdout;
    const wrong = randomBytes(32).toString('base64');
    await assert.rejects(
      run(process.execPath, [BIN, 'keys', 'rotate', '--force', '--data-dir', dataDir], {
        env: { ...process.env, TESSERA_KEY_ENCRYPTION_KEY: wrong },
        encoding: 'utf8',
      }),
      (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 1);
        assert.match(
          error.stderr,
          /^ERR_KEYS_DECRYPT_FAILED: the key-encryption key from TESSERA_KEY_ENCRYPTION_KEY does not open the stored signing keys \S+ \(RS256 (current|next)\), \S+ \(RS256 (current|next)\): /,
        );
        assert.ok(!error.stderr.includes(wrong));
        return true;
      },
    );
    assert.equal(
      (await tessera('keys', 'list', '--data-dir', dataDir, '--json')).stdout,
      before,
      'nothing changed',
    );
  });
});
