// End to end: jobs run by a real runner process use their ID tokens against relying parties on
// loopback: a JWT-protected web server (checking tokens with Tessera's verifier through the
// coordinator's real discovery and JWKS), and a Vault stand-in for `secrets:` (no Vault server can
// be installed here; the stand-in answers Vault's two documented endpoints, see
// test/runner/vault-stand-in.ts).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createVerifier } from '../../src/verify/index.js';
import { makeRepository } from '../runner/git-repository.js';
import { startVaultStandIn, type VaultStandIn } from '../runner/vault-stand-in.js';
import { type Child, Coordinator, startRunner } from './runner-harness.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-e2e-id-token-'));
const coordinator = new Coordinator(join(root, 'data'));
const AUDIENCE = 'https://protected.e2e.test';
let runner: Child;
let service: Server;
let serviceUrl = '';
let vault: VaultStandIn;
const accepted: Record<string, unknown>[] = [];
const hasCurl = (() => {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

before(async () => {
  await coordinator.start();
  runner = startRunner(coordinator, await coordinator.registerRunner(), join(root, 'builds'), 2);
  // The protected service: 200 with some claims for a valid token for its audience, 401 otherwise.
  const verifier = createVerifier({ issuer: coordinator.issuer, audience: AUDIENCE, fetchTimeout: 5 });
  service = createServer((request, response) => {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    const refuse = (why: string) => {
      response.writeHead(401, { 'content-type': 'text/plain' });
      response.end(`refused: ${why}\n`);
    };
    if (!token) return refuse('no token');
    verifier.verify(token).then(
      (claims) => {
        accepted.push(claims);
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.end(`welcome ${claims.project_path} job ${claims.job_id}\n`);
      },
      (error: Error & { code?: string }) => refuse(error.code ?? 'invalid'),
    );
  });
  await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
  serviceUrl = `http://127.0.0.1:${(service.address() as AddressInfo).port}/`;
  vault = await startVaultStandIn({
    issuer: coordinator.issuer,
    roles: {
      ci: { boundAudiences: ['https://vault.e2e.test'], boundClaims: { project_path: 'vault-group/vault' } },
    },
    kv2: { secret: { 'ci/db': { password: 'e2e-db-password-from-vault' } } },
  });
});

after(async () => {
  await runner?.stop();
  await coordinator.stop();
  await new Promise<void>((resolve) => service?.close(() => resolve()));
  await vault?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('jobs use their ID tokens', { skip: hasCurl ? false : 'curl is not installed' }, () => {
  it('logs in to a JWT-protected web server with the pre-issued and an on-demand token', async () => {
    const dir = join(root, 'repos', 'login');
    makeRepository(dir, {
      // call.sh EXPECTED_STATUS [TOKEN]: calls the protected service, prints its answer, checks the status.
      'call.sh': [
        'set -eo pipefail',
        'auth=()',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion
        '[ -n "${2:-}" ] && auth=(-H "Authorization: Bearer $2")',
        `status=$(curl -s -o answer.txt -w '%{http_code}' "\${auth[@]}" ${serviceUrl})`,
        'cat answer.txt',
        'test "$status" = "$1"',
        '',
      ].join('\n'),
      '.gitlab-ci.yml': `
login:
  id_tokens:
    SERVICE_TOKEN:
      aud: ${AUDIENCE}
    OTHER_TOKEN:
      aud: https://other.e2e.test
  script:
    - bash call.sh 200 "$SERVICE_TOKEN"
    - bash call.sh 401 "$OTHER_TOKEN"
    - bash call.sh 401
    - FRESH=$(tessera id-token --audience ${AUDIENCE} --lifetime 120)
    - bash call.sh 200 "$FRESH"
    - echo "fresh=$FRESH"
    - bash call.sh 200 "$(tessera id-token --audience ${AUDIENCE} --alg ES256)"
    - tessera id-token --audience https://not-allowed.e2e.test --lifetime 999999 || echo "refused as expected"
`,
    });
    const id = await coordinator.createProject('login', dir);
    const pipeline = await coordinator.createPipeline(id);
    const job = await coordinator.waitForJob(id, pipeline.id, 'login', ['success', 'failed']);
    const log = await coordinator.trace(id, job.id);
    assert.equal(job.status, 'success', log);
    assert.equal((log.match(/welcome login-group\/login job \d+/g) ?? []).length, 3, log);
    assert.match(log, /fresh=\[MASKED\]/);
    assert.match(log, /\nERR_[A-Z_]+: [^\n]*\nrefused as expected\n/);
    assert.match(log, /refused: ERR_VERIFY_AUDIENCE/);
    assert.doesNotMatch(log, /eyJ/);
    const mine = accepted.filter((claims) => claims.job_id === String(job.id));
    assert.equal(mine.length, 3);
    assert.ok(
      mine.some((claims) => Number(claims.exp) - Number(claims.iat) === 120),
      'on-demand lifetime',
    );
  });

  it('resolves secrets: from Vault with the job ID token, masked, as a file', async () => {
    const dir = join(root, 'repos', 'vault');
    makeRepository(dir, {
      '.gitlab-ci.yml': `
variables:
  VAULT_SERVER_URL: ${vault.url}
  VAULT_AUTH_ROLE: ci
read-secret:
  id_tokens:
    VAULT_ID_TOKEN:
      aud: https://vault.e2e.test
  secrets:
    DB_PASSWORD:
      vault: ci/db/password@secret
  script:
    - test -f "$DB_PASSWORD"
    - cat "$DB_PASSWORD"; echo
    - test "$(cat "$DB_PASSWORD")" = e2e-db-password-from-vault
missing-secret:
  id_tokens:
    VAULT_ID_TOKEN:
      aud: https://vault.e2e.test
  secrets:
    NOPE:
      vault: ci/none/password@secret
  script: [echo should not run]
`,
    });
    const id = await coordinator.createProject('vault', dir);
    const pipeline = await coordinator.createPipeline(id);
    const job = await coordinator.waitForJob(id, pipeline.id, 'read-secret', ['success', 'failed']);
    const log = await coordinator.trace(id, job.id);
    assert.equal(job.status, 'success', log);
    assert.match(log, /\n\[MASKED\]\n/);
    assert.doesNotMatch(log, /e2e-db-password-from-vault/);
    assert.equal(vault.logins.at(-1)?.project_path, 'vault-group/vault');

    const missing = await coordinator.waitForJob(id, pipeline.id, 'missing-secret', ['success', 'failed']);
    assert.equal(missing.failure_reason, 'runner_system_failure');
    const missingLog = await coordinator.trace(id, missing.id);
    assert.match(
      missingLog,
      /resolving secrets: secret NOPE: secret\/data\/ci\/none does not exist in Vault/,
    );
    assert.doesNotMatch(missingLog, /should not run\n/);
  });
});
