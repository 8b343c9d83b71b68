import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { makeRepository } from './git-fixture.js';
import { setUpProject } from './project-fixture.js';
import { registerRunner, requestJob, variable } from './runner-client.js';

for (const dialect of testDialects()) {
  describe(`rules applied at pickup [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('fails a deployment whose environment became protected before pickup, and gives protected variables to protected refs', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': 'deploy:\n  script: [x]\n  environment: staging\n',
      });
      const c = await startTestCoordinator(dialect, { jobRequestWait: 0 });
      const p = await setUpProject(c, repo.path);
      await c.api('POST', `/api/v4/projects/${p.projectId}/variables`, {
        body: { key: 'DEPLOY_KEY', value: 'protected-value', protected: true },
      });
      const runnerToken = await registerRunner(c);
      const pipeline = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
        token: p.developer.token,
      });
      assert.equal(pipeline.status, 201);
      await c.api('POST', `/api/v4/projects/${p.projectId}/protected_environments`, {
        body: { name: 'staging', deploy_access_levels: [{ access_level: 40 }] },
      });
      assert.equal(await requestJob(c, runnerToken), null);
      const [job] = (await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines/${pipeline.body.id}/jobs`))
        .body;
      assert.equal(job.status, 'failed');
      assert.equal(job.failure_reason, 'protected_environment_failure');

      // A maintainer on a protected branch: allowed, and the protected variable is delivered.
      await c.api('POST', `/api/v4/projects/${p.projectId}/protected_branches`, {
        body: { name: 'main', push_access_level: 40 },
      });
      await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, { token: p.maintainer.token });
      const picked = await requestJob(c, runnerToken);
      assert.ok(picked);
      assert.equal(variable(picked, 'DEPLOY_KEY'), 'protected-value');
      assert.equal(variable(picked, 'CI_COMMIT_REF_PROTECTED'), 'true');
      assert.equal(variable(picked, 'CI_ENVIRONMENT_NAME'), 'staging');
    });

    it('rate-limits on-demand minting per job with Retry-After', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': 'job:\n  script: [x]\n  variables:\n    LEVEL: yaml\n',
      });
      const c = await startTestCoordinator(dialect, { tokenRateLimit: 2, jobRequestWait: 0 });
      const p = await setUpProject(c, repo.path);
      const runnerToken = await registerRunner(c);
      await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline`, {
        token: p.developer.token,
        body: { ref: 'main', variables: [{ key: 'LEVEL', value: 'api' }] },
      });
      const job = await requestJob(c, runnerToken);
      assert.equal(variable(job!, 'LEVEL'), 'api', 'pipeline variables outrank YAML');
      const url = `${variable(job!, 'TESSERA_ID_TOKEN_REQUEST_URL')}&audience=a`;
      const headers = { authorization: `Bearer ${variable(job!, 'TESSERA_ID_TOKEN_REQUEST_TOKEN')}` };
      assert.equal((await fetch(url, { headers })).status, 200);
      assert.equal((await fetch(url, { headers })).status, 200);
      const limited = await fetch(url, { headers });
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
      assert.equal(((await limited.json()) as { error: string }).error, 'ERR_RATE_LIMITED');
    });
  });
}
