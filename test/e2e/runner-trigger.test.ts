// End to end: trigger: child pipelines through a real `tessera serve` and a real `tessera runner`:
// bridges the coordinator runs itself, strategy: depend, forwarded variables, the bridges API with
// downstream_pipeline, a child that cannot be created, and the child's ID token claims.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeRepository } from '../runner/git-repository.js';
import { type Child, Coordinator, startRunner } from './runner-harness.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-e2e-trigger-'));
const coordinator = new Coordinator(join(root, 'data'));
let runner: Child;

before(async () => {
  await coordinator.start();
  runner = startRunner(coordinator, await coordinator.registerRunner(), join(root, 'builds'), 2, [
    '--executor',
    'shell',
  ]);
});

after(async () => {
  await runner?.stop();
  await coordinator.stop();
  rmSync(root, { recursive: true, force: true });
});

interface Bridge {
  name: string;
  status: string;
  failure_reason?: string;
  id: number;
  downstream_pipeline: { id: number; source: string; sha: string; ref: string; status: string } | null;
}

describe('runner end to end: trigger child pipelines', () => {
  it('runs child pipelines from bridges, mirrors strategy: depend, and links parent and child', async () => {
    const dir = join(root, 'repos', 'parent');
    makeRepository(dir, {
      '.gitlab-ci.yml': `
variables:
  GLOBAL: from-parent
stages: [build, children, after]
build:
  stage: build
  script: [echo build]
child-depend:
  stage: children
  variables: { OWN: from-bridge }
  trigger:
    include: ci/child.yml
    strategy: depend
fire-and-forget:
  stage: children
  trigger:
    include: [{ local: ci/failing.yml }]
depend-on-failure:
  stage: children
  allow_failure: true
  trigger: { include: ci/failing.yml, strategy: depend }
broken:
  stage: children
  allow_failure: true
  trigger: { include: ci/missing.yml }
after:
  stage: after
  script: [echo after the children]
`,
      'ci/child.yml': `
child-job:
  id_tokens:
    TOKEN: { aud: https://relying.example }
  script:
    - echo "source=$CI_PIPELINE_SOURCE pipeline=$CI_PIPELINE_ID global=$GLOBAL own=$OWN"
    - node -e "const c = JSON.parse(Buffer.from(process.env.TOKEN.split('.')[1], 'base64url')); console.log('claims', c.pipeline_source, c.pipeline_id)"
`,
      'ci/failing.yml': 'fails:\n  script: [exit 3]\n',
    });
    const id = await coordinator.createProject('parent', dir);
    const parent = await coordinator.createPipeline(id);
    const done = await coordinator.waitForPipeline(id, parent.id);
    const bridges = await coordinator.ok<Bridge[]>('GET', `/projects/${id}/pipelines/${parent.id}/bridges`);
    const bridge = (name: string) => bridges.find((candidate) => candidate.name === name)!;
    assert.equal(done.status, 'success', JSON.stringify(bridges));

    // Bridges are listed apart from the jobs, as GitLab.
    const jobs = await coordinator.jobs(id, parent.id);
    assert.deepEqual(jobs.map((job) => job.name).sort(), ['after', 'build']);
    assert.deepEqual(bridges.map((candidate) => candidate.name).sort(), [
      'broken',
      'child-depend',
      'depend-on-failure',
      'fire-and-forget',
    ]);

    const child = bridge('child-depend').downstream_pipeline!;
    assert.equal(bridge('child-depend').status, 'success');
    assert.equal(child.source, 'parent_pipeline');
    const childPipeline = await coordinator.ok<{
      sha: string;
      ref: string;
      source: string;
      user: { username: string };
    }>('GET', `/projects/${id}/pipelines/${child.id}`);
    const parentPipeline = await coordinator.ok<{ sha: string; user: { username: string } }>(
      'GET',
      `/projects/${id}/pipelines/${parent.id}`,
    );
    assert.equal(childPipeline.sha, parentPipeline.sha);
    assert.equal(childPipeline.ref, 'main');
    assert.equal(childPipeline.user.username, parentPipeline.user.username);
    const childJob = await coordinator.job(id, child.id, 'child-job');
    const log = await coordinator.trace(id, childJob.id);
    assert.match(
      log,
      new RegExp(`\\nsource=parent_pipeline pipeline=${child.id} global=from-parent own=from-bridge\\n`),
    );
    assert.match(log, new RegExp(`\\nclaims parent_pipeline ${child.id}\\n`));

    // Without depend the bridge succeeds once the child exists, whatever the child does.
    const fire = bridge('fire-and-forget');
    assert.equal(fire.status, 'success');
    assert.equal((await coordinator.waitForPipeline(id, fire.downstream_pipeline!.id)).status, 'failed');
    // With depend the bridge fails as its child failed.
    assert.equal(bridge('depend-on-failure').status, 'failed');
    assert.equal(bridge('depend-on-failure').downstream_pipeline?.status, 'failed');

    // A child that cannot be created fails its bridge, saying why.
    const broken = bridge('broken');
    assert.equal(broken.status, 'failed');
    assert.equal(broken.failure_reason, 'downstream_pipeline_creation_failed');
    assert.equal(broken.downstream_pipeline, null);
    assert.match(
      await coordinator.trace(id, broken.id),
      /Downstream pipeline cannot be created: .*\n.*ci\/missing\.yml/,
    );
  });
});
