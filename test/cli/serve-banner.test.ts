import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { serveBanner } from '../../src/cli/serve-banner.js';

const BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));

describe('serve banner', () => {
  it('npm start style: prints issuer, discovery, admin token file and next commands; the discovery URL answers', {
    timeout: 60_000,
  }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tessera-banner-'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TESSERA_DATA_DIR: dataDir,
      TESSERA_PORT: '0',
      TESSERA_LOG_LEVEL: 'warn',
      NO_COLOR: '1',
    };
    for (const name of [
      'TESSERA_KEY_ENCRYPTION_KEY',
      'TESSERA_DATABASE_URL',
      'TESSERA_BOOTSTRAP_ADMIN_TOKEN',
      'TESSERA_ISSUER',
      'TESSERA_HOST',
    ]) {
      delete env[name];
    }
    const child = spawn(process.execPath, [BIN, 'serve', '--embedded-runner'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const until = Date.now() + 45_000;
      while (!stderr.includes('Stop with Ctrl-C.') && Date.now() < until && child.exitCode === null) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const banner = stderr.slice(stderr.indexOf('Tessera is ready.'));
      assert.ok(banner.startsWith('Tessera is ready.'), stderr);
      const field = (label: string) => new RegExp(`^  ${label} +(.+)$`, 'm').exec(banner)?.[1];
      const issuer = field('Issuer') as string;
      assert.match(issuer, /^http:\/\/localhost:\d+$/);
      // The API base shown is the one jobs get as CI_SERVER_URL (the issuer's spelling), not the bound address.
      assert.equal(field('API \\(CI_SERVER_URL\\)'), issuer);
      assert.equal(field('Listening on'), issuer.replace('localhost', '127.0.0.1'));
      const discovery = field('Discovery') as string;
      assert.equal(discovery, `${issuer}/.well-known/openid-configuration`);
      assert.equal(field('Admin token'), `${join(dataDir, 'admin-token')} (user root, mode 0600)`);
      assert.match(field('Embedded runner') ?? '', /^on, 2 jobs at once, "(sandbox|shell)" executor$/);
      assert.match(banner, new RegExp(`^  curl -s ${discovery}$`, 'm'));
      assert.match(banner, / run \/path\/to\/a\/git\/repo /);
      // The token itself is printed once by the coordinator, never by the banner.
      const token = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
      assert.ok(!banner.includes(token));
      const answer = await fetch(discovery.replace('localhost', '127.0.0.1'));
      assert.equal(answer.status, 200);
      assert.equal(((await answer.json()) as { issuer: string }).issuer, issuer);
    } finally {
      child.kill('SIGTERM');
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('names the variable when the admin token came from TESSERA_BOOTSTRAP_ADMIN_TOKEN, and never its value', () => {
    const secret = 'a-bootstrap-token-of-some-length';
    const banner = serveBanner({
      server: { url: 'http://127.0.0.1:8080', issuer: 'https://ci.example.com/tessera' },
      config: { dataDir: '/nonexistent/data', database: 'postgres://db/tessera' },
      env: { TESSERA_BOOTSTRAP_ADMIN_TOKEN: secret },
      cwd: '/',
      command: 'tessera',
      fancy: false,
    });
    assert.ok(!banner.includes(secret));
    assert.match(banner, /^ {2}Admin token +the value of TESSERA_BOOTSTRAP_ADMIN_TOKEN \(user root\)$/m);
    assert.match(
      banner,
      /^ {2}Discovery +https:\/\/ci\.example\.com\/tessera\/\.well-known\/openid-configuration$/m,
    );
    assert.match(banner, /^ {2}Embedded runner +off \(add --embedded-runner/m);
    assert.match(banner, /^ {2}Store +PostgreSQL$/m);
    assert.match(banner, /^ {2}API \(CI_SERVER_URL\) +https:\/\/ci\.example\.com$/m);
    assert.match(banner, /^ {2}Listening on +http:\/\/127\.0\.0\.1:8080$/m);
    assert.match(
      banner,
      /PRIVATE-TOKEN: \$TESSERA_BOOTSTRAP_ADMIN_TOKEN" https:\/\/ci\.example\.com\/api\/v4\/user/,
    );
  });

  it('says when the generated token file is gone', () => {
    const banner = serveBanner({
      server: { url: 'http://127.0.0.1:8080', issuer: 'http://localhost:8080' },
      config: { dataDir: '/nonexistent/data', database: '' },
      env: {},
      cwd: '/nonexistent',
      command: 'tessera',
      fancy: false,
    });
    assert.match(
      banner,
      /Admin token +no longer on disk \(it was printed once and written to data\/admin-token/,
    );
    assert.match(banner, /^ {2}Store +SQLite in data$/m);
  });

  it('says loudly when the embedded runner could not sandbox its jobs, and how to fix it', () => {
    const input = {
      server: { url: 'http://127.0.0.1:8080', issuer: 'http://localhost:8080' },
      config: { dataDir: '/nonexistent/data', database: '' },
      env: {},
      cwd: '/nonexistent',
      command: 'tessera',
      fancy: false,
    };
    const unsandboxed = serveBanner({
      ...input,
      embeddedRunner: { concurrency: 1, executor: 'shell', unsandboxedReason: 'bubblewrap is not installed' },
    });
    assert.match(unsandboxed, /^ {2}Embedded runner +on, 1 job at once, "shell" executor$/m);
    assert.match(unsandboxed, /WARNING: jobs are not sandboxed\.\n {2}bubblewrap is not installed\./);
    assert.match(unsandboxed, /can read this instance's signing keys/);
    assert.match(unsandboxed, /apt-get install bubblewrap/);
    const sandboxed = serveBanner({ ...input, embeddedRunner: { concurrency: 2, executor: 'sandbox' } });
    assert.doesNotMatch(sandboxed, /WARNING/);
  });
});
