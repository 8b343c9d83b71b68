// Child pipelines whose configuration comes from another project of the instance or from an
// artifact (trigger:include with project or artifact), through a real coordinator and real git:
// the child reads the other project as the parent pipeline's user, and a bridge that cannot read
// what it names fails saying which project, file or job.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { finishJob } from '../../src/coordinator/finish-job.js';
import { startBridgeJobs } from '../../src/coordinator/start-bridge-jobs.js';
import { startTestCoordinator, type TestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { makeRepository } from './git-fixture.js';
import { setUpProject } from './project-fixture.js';

async function bridgeNamed(c: TestCoordinator, pipelineId: number, name: string) {
  const job = (await c.server.coordinator.repos.jobs.listStatesByPipeline(pipelineId, true)).find(
    (candidate) => candidate.name === name,
  );
  assert.ok(job, `job ${name}`);
  return job;
}

for (const dialect of testDialects()) {
  describe(`child pipelines from other projects and artifacts [${dialect.name}]`, {
    skip: dialect.skip,
  }, () => {
    it('reads a child from another project as the parent user, and fails a bridge that cannot read its file', async () => {
      const templates = await makeRepository({
        'ci/child.yml': 'include: ci/common.yml\nfrom-template:\n  extends: .common\n  script: [echo]\n',
        'ci/common.yml': '.common:\n  variables: { FROM: templates }\n',
        'ci/named.yml': 'spec:\n  inputs:\n    name: {}\n---\nchild-$[[ inputs.name ]]:\n  script: [echo]\n',
      });
      templates.git('tag', 'v1.0.0');
      const secret = await makeRepository({ 'ci/child.yml': 'secret:\n  script: [echo]\n' });
      const app = await makeRepository({
        '.gitlab-ci.yml': `
generate:
  stage: build
  script: [echo no artifacts]
from-project:
  trigger:
    include:
      - { project: acme/templates, ref: v1.0.0, file: /ci/child.yml }
with-inputs:
  trigger:
    include:
      - { project: acme/templates, file: ci/named.yml, inputs: { name: given } }
      - { local: ci/local.yml, inputs: { name: local } }
from-hidden:
  trigger:
    include: [{ project: secret/vault, file: ci/child.yml }]
from-missing-artifact:
  trigger:
    include: [{ artifact: generated.yml, job: generate }]
`,
        'ci/local.yml': 'spec:\n  inputs:\n    name: {}\n---\nlocal-$[[ inputs.name ]]:\n  script: [echo]\n',
      });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, app.path);
      await c.api('POST', '/api/v4/projects', {
        body: {
          name: 'templates',
          path: 'templates',
          namespace_id: p.groupId,
          repository_url: templates.path,
        },
      });
      const other = await c.api('POST', '/api/v4/groups', { body: { name: 'Secret', path: 'secret' } });
      await c.api('POST', '/api/v4/projects', {
        body: { name: 'vault', path: 'vault', namespace_id: other.body.id, repository_url: secret.path },
      });
      const created = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline`, {
        token: p.developer.token,
        body: { ref: 'main' },
      });
      assert.equal(created.status, 201, created.text);
      const coordinator = c.server.coordinator;
      // The build stage ends (its job uploads no artifacts), then the bridges run.
      const generate = await bridgeNamed(c, created.body.id, 'generate');
      assert.ok(
        await coordinator.repos.jobs.transition(generate.id, ['pending'], {
          status: 'running',
          startedAt: coordinator.clock(),
        }),
      );
      await finishJob(coordinator, generate.id, { status: 'success', exitCode: 0 });
      await startBridgeJobs(coordinator);

      const fromProject = await bridgeNamed(c, created.body.id, 'from-project');
      const child = await coordinator.repos.pipelines.findBySourceJob(fromProject.id);
      assert.ok(child, await coordinator.repos.jobs.readTrace(fromProject.id));
      assert.equal(child.userId, p.developer.id);
      const childJobs = await coordinator.repos.jobs.listByPipeline<{ variables: Record<string, string> }>(
        child.id,
      );
      assert.deepEqual(
        childJobs.map((job) => [job.name, job.spec.variables.FROM]),
        [['from-template', 'templates']],
      );

      // trigger:include entries pass inputs to the files' spec:inputs.
      const withInputs = await bridgeNamed(c, created.body.id, 'with-inputs');
      const inputsChild = await coordinator.repos.pipelines.findBySourceJob(withInputs.id);
      assert.ok(inputsChild, await coordinator.repos.jobs.readTrace(withInputs.id));
      assert.deepEqual(
        (await coordinator.repos.jobs.listByPipeline(inputsChild.id)).map((job) => job.name),
        ['child-given', 'local-local'],
      );

      const hidden = await bridgeNamed(c, created.body.id, 'from-hidden');
      assert.equal(hidden.status, 'failed');
      assert.match(
        await coordinator.repos.jobs.readTrace(hidden.id),
        /Downstream pipeline cannot be created: [^\n]*\n.*include\[0\].*project "secret\/vault" not found, or dev-app may not read it/,
      );
      const artifact = await bridgeNamed(c, created.body.id, 'from-missing-artifact');
      assert.equal(artifact.status, 'failed');
      assert.match(
        await coordinator.repos.jobs.readTrace(artifact.id),
        /job "generate" is not in the parent pipeline or has no artifacts/,
      );
    });
  });
}
