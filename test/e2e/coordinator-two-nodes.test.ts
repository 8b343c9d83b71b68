import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeRepository } from '../coordinator/git-fixture.js';
import { setUpProject } from '../coordinator/project-fixture.js';
import { registerRunner, requestJob } from '../coordinator/runner-client.js';
import { startTestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';

for (const dialect of testDialects()) {
  describe(`two coordinator nodes on one store [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('never hand the same job to two runners polling different nodes, and serve the same JWKS', async () => {
      const jobs = Array.from({ length: 10 }, (_, i) => `job${i}:\n  script: [echo ${i}]\n`).join('');
      const repo = await makeRepository({ '.gitlab-ci.yml': jobs });
      const a = await startTestCoordinator(dialect, { jobRequestWait: 1 });
      const b = await startTestCoordinator(dialect, { jobRequestWait: 1 }, { sameStoreAs: a });
      const p = await setUpProject(a, repo.path);
      const runners = await Promise.all([
        registerRunner(a),
        registerRunner(b),
        registerRunner(a),
        registerRunner(b),
      ]);
      const pipeline = await b.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
        token: p.developer.token,
      });
      assert.equal(pipeline.status, 201);
      const answers = await Promise.all(
        Array.from({ length: 16 }, (_, i) => requestJob(i % 2 === 0 ? a : b, runners[i % 4]!)),
      );
      const ids = answers.filter((job) => job !== null).map((job) => job!.id);
      assert.equal(ids.length, 10, 'every job handed out');
      assert.equal(new Set(ids).size, 10, 'no job handed out twice');
      const jwksA = await (await fetch(`${a.server.issuer}/oauth/discovery/keys`)).json();
      const jwksB = await (await fetch(`${b.server.issuer}/oauth/discovery/keys`)).json();
      assert.deepEqual(
        (jwksA as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid).sort(),
        (jwksB as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid).sort(),
      );
    });
  });
}
