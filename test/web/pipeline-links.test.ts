// The pipeline page links a trigger job's child pipeline, and the child its parent (GitLab's
// pipeline graph does both), read here as a visitor of a public project over plain HTTP.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startBridgeJobs } from '../../src/coordinator/start-bridge-jobs.js';
import { makeRepository } from '../coordinator/git-fixture.js';
import { setUpProject } from '../coordinator/project-fixture.js';
import { startTestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';

for (const dialect of testDialects()) {
  describe(`pipeline page: parent and child pipelines [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('links the child from its trigger job, and the parent from the child', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': 'child:\n  trigger:\n    include: ci/child.yml\n',
        'ci/child.yml': 'inner:\n  script: [echo inner]\n',
      });
      const c = await startTestCoordinator(dialect);
      try {
        const p = await setUpProject(c, repo.path, { body: { visibility: 'public' } });
        const created = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
          token: p.developer.token,
        });
        assert.equal(created.status, 201, created.text);
        const coordinator = c.server.coordinator;
        await startBridgeJobs(coordinator);
        const [bridge] = await coordinator.repos.jobs.listStatesByPipeline(created.body.id, true);
        const child = await coordinator.repos.pipelines.findBySourceJob(bridge?.id ?? 0);
        assert.ok(child, 'the trigger job made a child pipeline');
        const project = await coordinator.repos.projects.findById(p.projectId);
        const base = `${c.url}/${project?.pathWithNamespace}/-/pipelines`;
        const parentPage = await (await fetch(`${base}/${created.body.id}`)).text();
        assert.match(
          parentPage,
          new RegExp(`downstream: <a href="[^"]*/-/pipelines/${child.id}">pipeline #${child.id}</a>`),
        );
        const childPage = await (await fetch(`${base}/${child.id}`)).text();
        assert.match(
          childPage,
          new RegExp(
            `<dt>Triggered by</dt><dd><a href="[^"]*/-/pipelines/${created.body.id}">pipeline #${created.body.id}</a>`,
          ),
        );
      } finally {
        await c.close();
      }
    });
  });
}
