import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { finishJob } from '../../src/coordinator/finish-job.js';
import { startBridgeJobs } from '../../src/coordinator/start-bridge-jobs.js';
import { startTestCoordinator, type TestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { makeRepository } from './git-fixture.js';
import { setUpProject } from './project-fixture.js';

/** Runs a pending job to `status` as a runner would, through the coordinator. */
async function runJob(c: TestCoordinator, jobId: number, status: 'success' | 'failed') {
  const coordinator = c.server.coordinator;
  assert.ok(
    await coordinator.repos.jobs.transition(jobId, ['pending'], {
      status: 'running',
      startedAt: coordinator.clock(),
    }),
  );
  await finishJob(coordinator, jobId, { status, exitCode: status === 'success' ? 0 : 1 });
}

async function jobNamed(c: TestCoordinator, pipelineId: number, name: string) {
  const job = (await c.server.coordinator.repos.jobs.listStatesByPipeline(pipelineId, true)).find(
    (candidate) => candidate.name === name,
  );
  assert.ok(job, `job ${name}`);
  return job;
}

for (const dialect of testDialects()) {
  describe(`bridge (trigger:) jobs [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('creates the child as the parent user, holds the parent while the child runs (depend), then mirrors it', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': `
variables: { GLOBAL: g }
child:
  stage: test
  variables: { OWN: o }
  trigger: { include: ci/child.yml, strategy: depend, forward: { pipeline_variables: true } }
later:
  stage: deploy
  script: [echo later]
`,
        'ci/child.yml': 'inner:\n  script: [echo inner]\n',
      });
      const c = await startTestCoordinator(dialect);
      try {
        const p = await setUpProject(c, repo.path);
        const created = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline`, {
          token: p.developer.token,
          body: { ref: 'main', variables: [{ key: 'API', value: 'a' }] },
        });
        assert.equal(created.status, 201, created.text);
        const coordinator = c.server.coordinator;
        await startBridgeJobs(coordinator);
        const bridge = await jobNamed(c, created.body.id, 'child');
        assert.equal(bridge.status, 'running');
        const child = await coordinator.repos.pipelines.findBySourceJob(bridge.id);
        assert.ok(child);
        assert.deepEqual(
          [child.source, child.sha, child.ref, child.userId, child.sourceJobId],
          ['parent_pipeline', created.body.sha, 'main', p.developer.id, bridge.id],
        );
        assert.deepEqual(child.apiVariables, { GLOBAL: 'g', OWN: 'o', API: 'a' });
        assert.equal((await jobNamed(c, created.body.id, 'later')).status, 'created', 'the parent waits');
        assert.equal((await coordinator.repos.pipelines.findById(created.body.id))?.status, 'running');

        await runJob(c, (await jobNamed(c, child.id, 'inner')).id, 'success');
        assert.equal((await jobNamed(c, created.body.id, 'child')).status, 'success');
        assert.equal((await jobNamed(c, created.body.id, 'later')).status, 'pending');

        // The bridges API answers the bridge with its downstream pipeline; jobs leave it out.
        const bridges = await c.api(
          'GET',
          `/api/v4/projects/${p.projectId}/pipelines/${created.body.id}/bridges`,
          {
            token: p.developer.token,
          },
        );
        assert.equal(bridges.body[0].downstream_pipeline.id, child.id);
        assert.equal(bridges.body[0].downstream_pipeline.source, 'parent_pipeline');
        const jobs = await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines/${created.body.id}/jobs`, {
          token: p.developer.token,
        });
        assert.deepEqual(
          jobs.body.map((job: { name: string }) => job.name),
          ['later'],
        );
      } finally {
        await c.close();
      }
    });

    it('starts a bridge left pending without a signal at the periodic sweep (a restart, another node)', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': 'later:\n  when: manual\n  trigger: { include: ci/child.yml }\n',
        'ci/child.yml': 'inner:\n  script: [echo inner]\n',
      });
      const first = await startTestCoordinator(dialect);
      let second: TestCoordinator | undefined;
      try {
        const p = await setUpProject(first, repo.path);
        const created = await first.api('POST', `/api/v4/projects/${p.projectId}/pipeline`, {
          token: p.developer.token,
          body: { ref: 'main' },
        });
        const bridge = await jobNamed(first, created.body.id, 'later');
        assert.equal(bridge.status, 'manual');
        // Pending as a crash would leave it: straight in the store, so no node hears of it.
        assert.ok(
          await first.server.coordinator.repos.jobs.transition(bridge.id, ['manual'], { status: 'pending' }),
        );
        second = await startTestCoordinator(dialect, {}, { sameStoreAs: first, sweepInterval: 50 });
        const repos = second.server.coordinator.repos;
        for (
          let tries = 0;
          tries < 400 && (await repos.jobs.findById(bridge.id))?.status !== 'success';
          tries++
        )
          await new Promise((resolve) => setTimeout(resolve, 25));
        assert.equal((await repos.jobs.findById(bridge.id))?.status, 'success');
        assert.equal((await repos.pipelines.findBySourceJob(bridge.id))?.source, 'parent_pipeline');
      } finally {
        await second?.close();
        await first.close();
      }
    });

    it('makes one downstream pipeline per parallel:matrix combination, each with its variables', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': `
variables: { GLOBAL: g }
deploy:
  trigger: { include: ci/child.yml }
  parallel:
    matrix:
      - PROVIDER: [aws, gcp]
        STACK: data
quiet:
  trigger: { include: ci/child.yml, forward: { yaml_variables: false } }
  parallel: { matrix: [{ PROVIDER: ovh }] }
fan-out:
  trigger: { project: acme/$SERVICE }
  parallel: { matrix: [{ SERVICE: [svc-a, svc-b] }] }
`,
        'ci/child.yml': 'inner:\n  script: [echo inner]\n',
      });
      const service = await makeRepository({ '.gitlab-ci.yml': 'served:\n  script: [echo served]\n' });
      const c = await startTestCoordinator(dialect);
      try {
        const p = await setUpProject(c, repo.path);
        const svcA = await setUpProject(c, service.path, { path: 'svc-a' });
        const svcB = await setUpProject(c, service.path, { path: 'svc-b' });
        const created = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline`, {
          token: p.developer.token,
          body: { ref: 'main' },
        });
        assert.equal(created.status, 201, created.text);
        const coordinator = c.server.coordinator;
        await startBridgeJobs(coordinator);
        const downstream = async (name: string) => {
          const bridge = await jobNamed(c, created.body.id, name);
          assert.equal(bridge.status, 'success', name);
          const pipeline = await coordinator.repos.pipelines.findBySourceJob(bridge.id);
          assert.ok(pipeline, name);
          return pipeline;
        };
        const aws = await downstream('deploy: [aws, data]');
        const gcp = await downstream('deploy: [gcp, data]');
        assert.deepEqual(aws.apiVariables, { GLOBAL: 'g', PROVIDER: 'aws', STACK: 'data' });
        assert.deepEqual(gcp.apiVariables, { GLOBAL: 'g', PROVIDER: 'gcp', STACK: 'data' });
        assert.equal(aws.source, 'parent_pipeline');
        assert.deepEqual((await downstream('quiet: [ovh]')).apiVariables, {});
        const a = await downstream('fan-out: [svc-a]');
        const b = await downstream('fan-out: [svc-b]');
        assert.deepEqual([a.projectId, a.source], [svcA.projectId, 'pipeline']);
        assert.deepEqual([b.projectId, b.source], [svcB.projectId, 'pipeline']);
        const bridges = await c.api(
          'GET',
          `/api/v4/projects/${p.projectId}/pipelines/${created.body.id}/bridges`,
          { token: p.developer.token },
        );
        assert.equal(bridges.body.length, 5);
      } finally {
        await c.close();
      }
    });

    it('cancels the child pipelines when the parent is canceled', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': 'kid:\n  trigger: { include: ci/child.yml, strategy: depend }\n',
        'ci/child.yml': 'inner:\n  script: [echo inner]\n',
      });
      const c = await startTestCoordinator(dialect);
      try {
        const p = await setUpProject(c, repo.path);
        const created = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline`, {
          token: p.developer.token,
          body: { ref: 'main' },
        });
        const coordinator = c.server.coordinator;
        await startBridgeJobs(coordinator);
        const bridge = await jobNamed(c, created.body.id, 'kid');
        const child = await coordinator.repos.pipelines.findBySourceJob(bridge.id);
        assert.equal(child?.status, 'pending');
        const canceled = await c.api(
          'POST',
          `/api/v4/projects/${p.projectId}/pipelines/${created.body.id}/cancel`,
          {
            token: p.developer.token,
          },
        );
        assert.equal(canceled.status, 201, canceled.text);
        assert.equal(canceled.body.status, 'canceled');
        assert.equal((await coordinator.repos.pipelines.findById(child!.id))?.status, 'canceled');
        assert.equal((await jobNamed(c, child!.id, 'inner')).status, 'canceled');
      } finally {
        await c.close();
      }
    });
  });
}
