import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { startBridgeJobs } from '../../src/coordinator/start-bridge-jobs.js';
import type { PlannedJob } from '../../src/pipeline/plan.js';
import { startTestCoordinator, type TestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { makeRepository } from './git-fixture.js';
import { setUpProject } from './project-fixture.js';
import { startIncludeServers } from './remote-include-server.js';

const CHILD = `spec:
  inputs:
    who:
---
hello:
  script: ["echo hello $[[ inputs.who ]] $FROM_PARENT"]
`;

async function bridgeNamed(c: TestCoordinator, pipelineId: number, name: string) {
  const jobs = await c.server.coordinator.repos.jobs.listStatesByPipeline(pipelineId, true);
  const bridge = jobs.find((job) => job.name === name);
  assert.ok(bridge, `bridge ${name}`);
  return bridge;
}

for (const dialect of testDialects()) {
  describe(`child pipelines from trigger:include:remote [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('creates a child from an allowed remote file with inputs and integrity, and fails bridges the rules refuse', async () => {
      const servers = await startIncludeServers({ '/ci/child.yml': CHILD, '/ci/other.yml': CHILD });
      const digest = createHash('sha256').update(CHILD, 'utf8').digest('base64');
      const repo = await makeRepository({
        '.gitlab-ci.yml': `
variables: { FROM_PARENT: parent }
remote-child:
  trigger:
    include:
      - remote: ${servers.https}/ci/child.yml
        integrity: sha256-${digest}
        inputs: { who: remote }
    strategy: depend
tampered:
  trigger:
    include:
      - remote: ${servers.https}/ci/other.yml?token=hidden
        integrity: sha256-${'A'.repeat(43)}=
        inputs: { who: nobody }
off-the-list:
  trigger:
    include: [{ remote: '${servers.httpsByName}/ci/child.yml', inputs: { who: nobody } }]
`,
      });
      const c = await startTestCoordinator(dialect, {
        includeRemoteHosts: '127.0.0.1',
        includeRemoteCaFile: servers.caFile,
      });
      try {
        const p = await setUpProject(c, repo.path);
        const created = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline`, {
          token: p.developer.token,
          body: { ref: 'main' },
        });
        assert.equal(created.status, 201, created.text);
        const coordinator = c.server.coordinator;
        await startBridgeJobs(coordinator);

        const bridge = await bridgeNamed(c, created.body.id, 'remote-child');
        assert.equal(bridge.status, 'running', 'depend: it waits for the child');
        const child = await coordinator.repos.pipelines.findBySourceJob(bridge.id);
        assert.ok(child);
        assert.equal(child.source, 'parent_pipeline');
        const jobs = await coordinator.repos.jobs.listByPipeline<PlannedJob>(child.id);
        assert.deepEqual(
          jobs.map((job) => [job.name, job.spec.script]),
          [['hello', ['echo hello remote $FROM_PARENT']]],
        );
        assert.deepEqual(child.apiVariables, { FROM_PARENT: 'parent' });

        const tampered = await bridgeNamed(c, created.body.id, 'tampered');
        assert.equal(tampered.status, 'failed');
        const tamperedLog = await coordinator.repos.jobs.readTrace(tampered.id);
        assert.match(tamperedLog, /integrity check failed/);
        assert.doesNotMatch(tamperedLog, /hidden/, 'the query string stays out of the log');

        const offList = await bridgeNamed(c, created.body.id, 'off-the-list');
        assert.equal(offList.status, 'failed');
        assert.match(await coordinator.repos.jobs.readTrace(offList.id), /localhost/);
        assert.deepEqual(servers.requests.filter((path) => path.startsWith('/ci/')).sort(), [
          '/ci/child.yml',
          '/ci/other.yml',
        ]);
      } finally {
        await c.close();
      }
    });
  });
}
