// End to end: trigger: child pipelines through a real `tessera serve` and a real `tessera runner`:
// bridges the coordinator runs itself, strategy: depend, forwarded variables, the bridges API with
// downstream_pipeline, a child that cannot be created, and the child's ID token claims.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeRepository } from '../runner/git-repository.js';
import { useServeAndRunner } from './runner-harness.js';

const { root, coordinator } = useServeAndRunner('trigger', { runnerArgs: ['--executor', 'shell'] });

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

  it('runs a pipeline of another project as the upstream user, who must be allowed there', async () => {
    const downstreamDir = join(root, 'repos', 'downstream');
    makeRepository(downstreamDir, {
      '.gitlab-ci.yml': `deployed:\n  script: [echo "source=$CI_PIPELINE_SOURCE project=$CI_PROJECT_PATH who=$GITLAB_USER_LOGIN from=$FROM_UPSTREAM"]\n`,
    });
    const downstreamId = await coordinator.createProject('downstream', downstreamDir);
    const downstreamPath = (
      await coordinator.ok<{ path_with_namespace: string }>('GET', `/projects/${downstreamId}`)
    ).path_with_namespace;
    const upstreamDir = join(root, 'repos', 'upstream');
    makeRepository(upstreamDir, {
      '.gitlab-ci.yml': `
variables:
  TARGET: ${downstreamPath}
deploy:
  variables: { FROM_UPSTREAM: hello }
  trigger: { project: $TARGET, branch: $CI_DEFAULT_BRANCH, strategy: depend }
`,
    });
    const upstreamId = await coordinator.createProject('upstream', upstreamDir);

    // As an administrator: the downstream pipeline runs, with source pipeline; depend mirrors it.
    const first = await coordinator.createPipeline(upstreamId);
    assert.equal((await coordinator.waitForPipeline(upstreamId, first.id)).status, 'success');
    const [bridge] = await coordinator.ok<Bridge[]>(
      'GET',
      `/projects/${upstreamId}/pipelines/${first.id}/bridges`,
    );
    assert.equal(bridge?.status, 'success');
    const downstream = bridge!.downstream_pipeline!;
    assert.equal(downstream.source, 'pipeline');
    const deployed = await coordinator.job(downstreamId, downstream.id, 'deployed');
    assert.match(
      await coordinator.trace(downstreamId, deployed.id),
      new RegExp(`\\nsource=pipeline project=${downstreamPath} who=root from=hello\\n`),
    );

    // A developer of the upstream project only: the bridge fails with GitLab's reason, saying why.
    const dev = await coordinator.ok<{ id: number }>('POST', '/users', {
      username: 'dev',
      email: 'dev@example.com',
      name: 'Dev',
      password: 'a-long-enough-password-1',
    });
    const { token } = await coordinator.ok<{ token: string }>(
      'POST',
      `/users/${dev.id}/personal_access_tokens`,
      {
        name: 'e2e',
        scopes: ['api'],
      },
    );
    await coordinator.ok('POST', `/projects/${upstreamId}/members`, { user_id: dev.id, access_level: 30 });
    await coordinator.ok('POST', `/projects/${downstreamId}/members`, { user_id: dev.id, access_level: 20 });
    const created = await fetch(`${coordinator.url}/api/v4/projects/${upstreamId}/pipeline?ref=main`, {
      method: 'POST',
      headers: { 'private-token': token },
    });
    assert.equal(created.status, 201, await created.clone().text());
    const second = (await created.json()) as { id: number };
    assert.equal((await coordinator.waitForPipeline(upstreamId, second.id)).status, 'failed');
    const [refused] = await coordinator.ok<Bridge[]>(
      'GET',
      `/projects/${upstreamId}/pipelines/${second.id}/bridges`,
    );
    assert.equal(refused?.failure_reason, 'insufficient_bridge_permissions');
    assert.equal(refused?.downstream_pipeline, null);
    assert.match(
      await coordinator.trace(upstreamId, refused!.id),
      new RegExp(`dev may not run pipelines in "${downstreamPath}": that needs the Developer role`),
    );
  });

  it('stops child pipelines two levels deep, and names a project that does not exist', async () => {
    const dir = join(root, 'repos', 'nesting');
    makeRepository(dir, {
      '.gitlab-ci.yml': `
level-1:
  trigger: { include: ci/level-2.yml, strategy: depend }
  allow_failure: true
nowhere:
  trigger: { project: nobody/nothing }
  allow_failure: true
`,
      'ci/level-2.yml': 'level-2:\n  trigger: { include: ci/level-3.yml, strategy: depend }\n',
      'ci/level-3.yml': 'level-3:\n  trigger: { include: ci/level-2.yml }\n',
    });
    const id = await coordinator.createProject('nesting', dir);
    const top = await coordinator.createPipeline(id);
    await coordinator.waitForPipeline(id, top.id);
    const bridgesOf = (pipelineId: number) =>
      coordinator.ok<Bridge[]>('GET', `/projects/${id}/pipelines/${pipelineId}/bridges`);
    const [level1, nowhere] = await bridgesOf(top.id);
    assert.equal(nowhere?.failure_reason, 'downstream_bridge_project_not_found');
    assert.match(await coordinator.trace(id, nowhere!.id), /no project "nobody\/nothing"/);
    const [level2] = await bridgesOf(level1!.downstream_pipeline!.id);
    const [level3] = await bridgesOf(level2!.downstream_pipeline!.id);
    assert.equal(level3?.status, 'failed');
    assert.equal(level3?.failure_reason, 'reached_max_descendant_pipelines_depth');
    assert.equal(level2?.status, 'failed', 'depend carries the failure up');
    assert.equal(level1?.status, 'failed');
  });
  it('runs one child pipeline per parallel:matrix combination of a bridge, each with its variables', async () => {
    const dir = join(root, 'repos', 'matrix');
    makeRepository(dir, {
      '.gitlab-ci.yml': `
stages: [children, after]
deploy:
  stage: children
  trigger: { include: ci/deploy.yml, strategy: depend }
  parallel:
    matrix:
      - PROVIDER: [aws, gcp]
        STACK: data
summary:
  stage: after
  needs: [deploy]
  script: [echo all deployed]
`,
      'ci/deploy.yml':
        'deploy-job:\n  script:\n    - echo "deploying $STACK on $PROVIDER from $CI_PIPELINE_SOURCE"\n',
    });
    const id = await coordinator.createProject('matrix', dir);
    const parent = await coordinator.createPipeline(id);
    const done = await coordinator.waitForPipeline(id, parent.id);
    const bridges = await coordinator.ok<Bridge[]>('GET', `/projects/${id}/pipelines/${parent.id}/bridges`);
    assert.equal(done.status, 'success', JSON.stringify(bridges));
    assert.deepEqual(bridges.map((bridge) => bridge.name).sort(), [
      'deploy: [aws, data]',
      'deploy: [gcp, data]',
    ]);
    for (const bridge of bridges) {
      const provider = bridge.name.includes('aws') ? 'aws' : 'gcp';
      const child = bridge.downstream_pipeline!;
      assert.deepEqual(
        [bridge.status, child.source, child.status],
        ['success', 'parent_pipeline', 'success'],
      );
      const job = await coordinator.job(id, child.id, 'deploy-job');
      assert.match(
        await coordinator.trace(id, job.id),
        new RegExp(`\\ndeploying data on ${provider} from parent_pipeline\\n`),
      );
    }
    assert.equal(
      (await coordinator.jobs(id, parent.id)).find((job) => job.name === 'summary')?.status,
      'success',
    );
  });
});
