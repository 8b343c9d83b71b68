import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testDialects } from '../store/dialects.js';

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
});
