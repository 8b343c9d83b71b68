// End to end: under `tessera serve --embedded-runner` (the `npm start` setup) a job pushed to an
// unprotected branch runs in the default sandbox: it cannot read the coordinator's data directory
// (key-encryption key, store, admin token) nor the coordinator's environment, so it cannot mint a
// token of its own, while the ID token the coordinator gave it still verifies against the JWKS.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { findBubblewrap } from '../../src/runner/executors/sandbox-executor.js';
import { createVerifier } from '../../src/verify/index.js';
import { commitFiles, git, makeRepository } from '../runner/git-repository.js';
import { Coordinator } from './runner-harness.js';

const usable =
  'bwrap' in
  findBubblewrap(process.getuid?.() === 0 ? { name: 'nobody', uid: 65534, gid: 65534 } : undefined);
const root = mkdtempSync(join(tmpdir(), 'tessera-e2e-sandbox-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('tessera serve --embedded-runner with the default sandbox', {
  skip: usable ? false : 'bubblewrap cannot make a sandbox on this machine',
}, () => {
  it("keeps a developer's job away from the signing keys; its own token still verifies", async () => {
    const received: string[] = [];
    const collector = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        received.push(body);
        response.end('stored\n');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/`;
    const dataDir = join(root, 'data');
    const coordinator = new Coordinator(dataDir);
    try {
      await coordinator.start(['--embedded-runner']);
      const repo = join(root, 'repo');
      makeRepository(repo, { 'README.md': 'main\n' });
      git(repo, ['checkout', '--quiet', '-b', 'feature']);
      commitFiles(
        repo,
        {
          '.gitlab-ci.yml': `steal:
  id_tokens:
    ID_TOKEN:
      aud: https://sandbox.e2e.test
  script:
    - ls "$CI_BUILDS_DIR/.."
    - cat "$CI_BUILDS_DIR/../data/key-encryption-key" || echo "kek hidden (relative)"
    - cat ${dataDir}/key-encryption-key || echo "kek hidden (absolute)"
    - head -c 64 ${dataDir}/tessera.db || echo "store hidden"
    - cat ${dataDir}/admin-token || echo "admin token hidden"
    - cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c '^TESSERA_BOOTSTRAP' || echo "no coordinator environment"
    - exec 3<>/dev/tcp/127.0.0.1/${new URL(collectorUrl).port}
    - |
      printf 'POST / HTTP/1.0\\r\\nContent-Length: %s\\r\\n\\r\\n%s' "\${#ID_TOKEN}" "$ID_TOKEN" >&3
    - cat <&3 | tail -n 1
`,
        },
        'a job that tries to reach the keys',
      );
      const id = await coordinator.createProject('sandboxed', repo);
      const pipeline = await coordinator.createPipeline(id, 'feature');
      const job = await coordinator.waitForJob(id, pipeline.id, 'steal', ['success', 'failed']);
      const log = await coordinator.trace(id, job.id);
      assert.equal(job.status, 'success', log);
      assert.match(
        coordinator.child?.stderr() ?? '',
        /Embedded runner +on, 2 jobs at once, "sandbox" executor/,
      );
      assert.match(log, /Preparing the "sandbox" executor/);
      assert.match(log, /kek hidden \(relative\)/);
      assert.match(log, /kek hidden \(absolute\)/);
      assert.match(log, /store hidden/);
      assert.match(log, /admin token hidden/);
      assert.match(log, /no coordinator environment/);
      assert.match(log, /^stored$/m);
      const kek = readFileSync(join(dataDir, 'key-encryption-key'), 'utf8').trim();
      assert.ok(kek.length > 16 && !log.includes(kek), 'the key-encryption key never reaches the log');
      assert.ok(!log.includes(coordinator.adminToken));

      assert.equal(received.length, 1);
      const verifier = createVerifier({ issuer: coordinator.issuer, audience: 'https://sandbox.e2e.test' });
      const claims = await verifier.verify(received[0] as string);
      assert.equal(claims.ref, 'feature');
      assert.equal(claims.ref_protected, 'false');
      assert.equal(claims.job_id, String(job.id));
    } finally {
      await coordinator.stop();
      collector.close();
    }
  });
});
