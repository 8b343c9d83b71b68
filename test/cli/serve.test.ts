import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config/load.js';
import { isTesseraError } from '../../src/errors.js';
import { Keyring } from '../../src/keys/keyring.js';
import { buildServer } from '../../src/server/build-server.js';
import { openStore } from '../../src/store/open-store.js';
import { repositories } from '../../src/store/repositories.js';
import { testDialects } from '../store/dialects.js';

/** Asserts that `promise` rejects with the Tessera error `code` and answers its message. */
async function refusal(promise: Promise<unknown>, code: string): Promise<string> {
  let message = '';
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isTesseraError(error), String(error));
    assert.equal(error.code, code, error.message);
    message = error.message;
    return true;
  });
  return message;
}

const BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
const [sqlite] = testDialects();

describe('tessera serve', () => {
  it('starts, prints the admin token once, answers health, and stops on SIGTERM', async () => {
    const { dataDir } = await sqlite!.freshLocation();
    const env: NodeJS.ProcessEnv = { ...process.env, TESSERA_LOG_LEVEL: 'warn' };
    delete env.TESSERA_KEY_ENCRYPTION_KEY;
    delete env.TESSERA_DATABASE_URL;
    delete env.TESSERA_BOOTSTRAP_ADMIN_TOKEN;
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', '0'],
      {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const until = Date.now() + 30_000;
      let match = /listening on (\S+), issuer (\S+)/.exec(stderr);
      while (!match && Date.now() < until && child.exitCode === null) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        match = /listening on (\S+), issuer (\S+)/.exec(stderr);
      }
      assert.ok(match, stderr);
      const [, url, issuer] = match;
      assert.equal(issuer, url!.replace('127.0.0.1', 'localhost'));
      const token = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
      assert.equal((await stat(join(dataDir, 'admin-token'))).mode & 0o777, 0o600);
      assert.ok(stderr.includes(token), 'printed once on first start');
      const me = await fetch(`${url}/api/v4/user`, { headers: { 'private-token': token } });
      assert.equal(me.status, 200);
      assert.equal((await fetch(`${url}/-/readiness`)).status, 200);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
  });

  it('refuses to start with a key-encryption key that does not open the stored keys, and readiness says 503', async () => {
    const { dataDir } = await sqlite!.freshLocation();
    const config = loadConfig({ host: '127.0.0.1', port: 0, dataDir, logLevel: 'silent' }, {});
    const right = randomBytes(32).toString('base64');
    const wrong = randomBytes(32).toString('base64');
    await (
      await startServer(config, { env: { TESSERA_KEY_ENCRYPTION_KEY: right }, notice: () => {} })
    ).close();

    const message = await refusal(
      startServer(config, { env: { TESSERA_KEY_ENCRYPTION_KEY: wrong }, notice: () => {} }),
      'ERR_KEYS_DECRYPT_FAILED',
    );
    assert.match(
      message,
      /^the key-encryption key from TESSERA_KEY_ENCRYPTION_KEY does not open the stored signing keys (\S+ \((RS256|ES256) (current|next)\)(, |: )){4}start with the key-encryption key they were sealed with/,
    );
    assert.ok(!message.includes(right) && !message.includes(wrong));
    // Nor does a key file in the data directory that is not the one the keys were sealed with.
    await writeFile(join(dataDir, 'key-encryption-key'), `${wrong}\n`, { mode: 0o600 });
    assert.match(
      await refusal(startServer(config, { env: {}, notice: () => {} }), 'ERR_KEYS_DECRYPT_FAILED'),
      new RegExp(
        `^the key-encryption key from the key file ${join(dataDir, 'key-encryption-key')} does not open`,
      ),
    );

    // A coordinator whose keys cannot be used (built past that check) is not ready.
    const store = await openStore({ database: '', dataDir });
    try {
      const keyring = new Keyring({
        repository: repositories(store.db).signingKeys,
        kek: Buffer.from(wrong, 'base64'),
        jwksCachePeriod: 300,
        maxTokenLifetime: 7200,
      });
      const { app } = buildServer(config, { store, keyring });
      const ready = await app.inject({ method: 'GET', url: '/-/readiness' });
      assert.equal(ready.statusCode, 503);
      assert.deepEqual(ready.json().checks, { database: 'ok', keys: 'failed' });
      await app.close();
    } finally {
      await store.close();
    }
  });

  it('reports a port in use naming --port and TESSERA_PORT, before it creates the admin token', async () => {
    const first = await sqlite!.freshLocation();
    const server = await startServer(
      loadConfig({ host: '127.0.0.1', port: 0, dataDir: first.dataDir, logLevel: 'silent' }, {}),
      { env: {}, notice: () => {} },
    );
    try {
      const port = Number(new URL(server.url).port);
      const { dataDir } = await sqlite!.freshLocation();
      const notices: string[] = [];
      const message = await refusal(
        startServer(loadConfig({ host: '127.0.0.1', port, dataDir, logLevel: 'silent' }, {}), {
          env: {},
          notice: (line) => notices.push(line),
        }),
        'ERR_SERVER_LISTEN_FAILED',
      );
      assert.equal(
        message,
        `cannot listen on 127.0.0.1:${port}: port ${port} is already in use on 127.0.0.1 (another tessera serve, or another program): choose another with --port (TESSERA_PORT), or stop the other process`,
      );
      assert.deepEqual(notices, []);
      assert.equal(existsSync(join(dataDir, 'admin-token')), false);
    } finally {
      await server.close();
    }
  });
});
