// End to end with a real relying party: Debian's Apache httpd with mod_auth_openidc protects a
// loopback URL as an OAuth 2.0 resource server; jobs run by a real `tessera runner` reach it with
// their pre-issued and on-demand ID tokens (RS256 and ES256). mod_auth_openidc only accepts an
// https JWKS URL, so the coordinator's JWKS is fronted by a loopback TLS proxy whose self-signed
// certificate is generated here with openssl and given to Apache as its CA bundle.
// Needs `apache2` and `libapache2-mod-auth-openidc` (installed by .ci/run); skips without them.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeRepository } from '../runner/git-repository.js';
import { type Child, Coordinator, startRunner, waitFor } from './runner-harness.js';

const APACHE = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';
const missing = [APACHE, join(MODULES, 'mod_auth_openidc.so')].filter((path) => !existsSync(path));
const hasTools = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const skip =
  missing.length > 0
    ? `Apache with mod_auth_openidc is not installed (${missing.join(', ')} missing); .ci/run installs apache2 and libapache2-mod-auth-openidc`
    : hasTools
      ? false
      : 'openssl or curl is not installed';

const AUDIENCE = 'https://apache.e2e.test';
let root = '';
let coordinator: Coordinator;
let runner: Child;
let jwksProxy: HttpsServer;
let apache: ChildProcess | undefined;
let apacheUrl = '';

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

before(async () => {
  if (skip) return;
  root = mkdtempSync(join(tmpdir(), 'tessera-e2e-apache-'));
  // Apache's children run as www-data when the test runs as root: they read the CA bundle.
  chmodSync(root, 0o755);
  coordinator = new Coordinator(join(root, 'data'));
  await coordinator.start();
  runner = startRunner(coordinator, await coordinator.registerRunner(), join(root, 'builds'), 2);

  const tls = join(root, 'tls');
  mkdirSync(tls, { mode: 0o755 });
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      join(tls, 'key.pem'),
      '-out',
      join(tls, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  chmodSync(join(tls, 'cert.pem'), 0o644);
  // The TLS front of the coordinator's JWKS (what a reverse proxy does in production).
  jwksProxy = createHttpsServer(
    { key: readFileSync(join(tls, 'key.pem')), cert: readFileSync(join(tls, 'cert.pem')) },
    (_request, response) => {
      fetch(`${coordinator.url}/oauth/discovery/keys`).then(
        async (upstream) => {
          response.writeHead(upstream.status, { 'content-type': 'application/json' });
          response.end(await upstream.text());
        },
        () => {
          response.writeHead(502);
          response.end();
        },
      );
    },
  );
  await new Promise<void>((resolve) => jwksProxy.listen(0, '127.0.0.1', resolve));
  const jwksUrl = `https://127.0.0.1:${(jwksProxy.address() as AddressInfo).port}/keys`;

  const site = join(root, 'apache');
  mkdirSync(join(site, 'htdocs', 'protected'), { recursive: true, mode: 0o755 });
  writeFileSync(join(site, 'htdocs', 'protected', 'hello.txt'), 'hello from apache\n', { mode: 0o644 });
  const port = await freePort();
  apacheUrl = `http://127.0.0.1:${port}/protected/hello.txt`;
  const asRoot = process.getuid?.() === 0;
  writeFileSync(
    join(site, 'httpd.conf'),
    [
      `ServerRoot ${site}`,
      `Listen 127.0.0.1:${port}`,
      'ServerName 127.0.0.1',
      `PidFile ${join(site, 'httpd.pid')}`,
      `ErrorLog ${join(site, 'error.log')}`,
      'LogLevel warn auth_openidc:info',
      `DefaultRuntimeDir ${site}`,
      ...(asRoot ? ['User www-data', 'Group www-data'] : []),
      `LoadModule mpm_event_module ${MODULES}/mod_mpm_event.so`,
      `LoadModule authn_core_module ${MODULES}/mod_authn_core.so`,
      `LoadModule authz_core_module ${MODULES}/mod_authz_core.so`,
      `LoadModule auth_openidc_module ${MODULES}/mod_auth_openidc.so`,
      'StartServers 1',
      'ServerLimit 1',
      'ThreadsPerChild 8',
      'MaxRequestWorkers 8',
      `DocumentRoot ${join(site, 'htdocs')}`,
      `OIDCOAuthVerifyJwksUri ${jwksUrl}`,
      `OIDCCABundlePath ${join(tls, 'cert.pem')}`,
      'OIDCOAuthRemoteUserClaim sub',
      'OIDCJWKSRefreshInterval 300',
      '<Location /protected>',
      '  AuthType oauth20',
      '  <RequireAll>',
      // Several `Require claim` lines are OR-ed by Apache unless inside RequireAll.
      `    Require claim iss:${coordinator.issuer}`,
      `    Require claim aud:${AUDIENCE}`,
      '  </RequireAll>',
      '</Location>',
      '',
    ].join('\n'),
  );
  apache = spawn(APACHE, ['-f', join(site, 'httpd.conf'), '-DFOREGROUND'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', APACHE_RUN_DIR: site },
  });
  let apacheOutput = '';
  apache.stdout?.on('data', (chunk) => {
    apacheOutput += chunk;
  });
  apache.stderr?.on('data', (chunk) => {
    apacheOutput += chunk;
  });
  await waitFor(async () => {
    if (apache?.exitCode !== null) {
      const log = existsSync(join(site, 'error.log')) ? readFileSync(join(site, 'error.log'), 'utf8') : '';
      throw new Error(`apache2 exited: ${apacheOutput}\n${log}`);
    }
    try {
      return (await fetch(apacheUrl)).status === 401 ? true : undefined;
    } catch {
      return undefined;
    }
  }, 'Apache to listen');
});

after(async () => {
  if (skip) return;
  if (apache && apache.exitCode === null) {
    const exited = new Promise((resolve) => apache?.once('close', resolve));
    apache.kill('SIGTERM');
    await exited;
  }
  await new Promise<void>((resolve) => jwksProxy?.close(() => resolve()));
  await runner?.stop();
  await coordinator?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('Apache mod_auth_openidc as a relying party', { skip }, () => {
  it('lets jobs in with their pre-issued and on-demand tokens, and only with those', async () => {
    const repo = join(root, 'repo');
    makeRepository(repo, {
      // call.sh EXPECTED_STATUS [TOKEN]: fetches the protected file, prints it, checks the status.
      'call.sh': [
        'auth=()',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion
        '[ -n "${2:-}" ] && auth=(-H "Authorization: Bearer $2")',
        `status=$(curl -s -o answer.txt -w '%{http_code}' "\${auth[@]}" ${apacheUrl})`,
        'echo "HTTP $status $(head -c 100 answer.txt | head -n 1)"',
        'test "$status" = "$1"',
        '',
      ].join('\n'),
      '.gitlab-ci.yml': `
apache:
  id_tokens:
    APACHE_TOKEN:
      aud: ${AUDIENCE}
    WRONG_AUDIENCE_TOKEN:
      aud: https://elsewhere.e2e.test
  script:
    - bash call.sh 200 "$APACHE_TOKEN"
    - bash call.sh 200 "$(tessera id-token --audience ${AUDIENCE} --lifetime 120)"
    - bash call.sh 200 "$(tessera id-token --audience ${AUDIENCE} --alg ES256)"
    - bash call.sh 401 "$WRONG_AUDIENCE_TOKEN"
    - bash call.sh 401 "$(tessera id-token --audience https://elsewhere.e2e.test)"
    - bash call.sh 401
`,
    });
    const id = await coordinator.createProject('apache', repo);
    const pipeline = await coordinator.createPipeline(id);
    const job = await coordinator.waitForJob(id, pipeline.id, 'apache', ['success', 'failed'], 120_000);
    const log = await coordinator.trace(id, job.id);
    assert.equal(job.status, 'success', log);
    assert.equal((log.match(/HTTP 200 hello from apache/g) ?? []).length, 3, log);
    assert.equal((log.match(/HTTP 401 /g) ?? []).length, 3, log);
    assert.doesNotMatch(log, /eyJ/);
  });
});
