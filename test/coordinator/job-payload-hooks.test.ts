import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { makeRepository } from './git-fixture.js';
import { setUpProject } from './project-fixture.js';
import { registerRunner, requestJob } from './runner-client.js';

for (const dialect of testDialects()) {
  describe(`job payload hooks [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('sends hooks:pre_get_sources_script as GitLab does, and [] for a job without hooks', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': `
default:
  hooks:
    pre_get_sources_script: [echo default]
hooked:
  hooks:
    pre_get_sources_script:
      - git config --global http.version HTTP/1.1
      - [echo nested]
  script: [echo build]
plain:
  inherit:
    default: false
  script: [echo plain]
`,
      });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const runnerToken = await registerRunner(c);
      const pipeline = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
        token: p.developer.token,
      });
      assert.equal(pipeline.status, 201, pipeline.text);
      const jobs = [await requestJob(c, runnerToken), await requestJob(c, runnerToken)];
      const byName = new Map(jobs.map((job) => [job?.job_info.name, job]));
      assert.deepEqual(byName.get('hooked')?.hooks, [
        {
          name: 'pre_get_sources_script',
          script: ['git config --global http.version HTTP/1.1', 'echo nested'],
        },
      ]);
      assert.deepEqual(byName.get('plain')?.hooks, []);
    });
  });
}
