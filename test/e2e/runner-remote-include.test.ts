// End to end: one pipeline through a real `tessera serve` and a real `tessera runner` that uses a
// file from a loopback HTTPS server (include:remote with inputs), pipeline inputs from the API, and
// a child pipeline given its inputs by trigger:include:inputs.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startIncludeServers } from '../coordinator/remote-include-server.js';
import { makeRepository } from '../runner/git-repository.js';
import { useServeAndRunner } from './runner-harness.js';

const servers = await startIncludeServers({
  '/templates/greet.yml': `spec:
  inputs:
    greeting:
---
remote-job:
  stage: build
  script:
    - echo "remote says $[[ inputs.greeting ]]"
`,
});

const { root, coordinator } = useServeAndRunner('remote', {
  runnerArgs: ['--executor', 'shell'],
  serveEnv: {
    TESSERA_INCLUDE_REMOTE_HOSTS: '127.0.0.1',
    TESSERA_INCLUDE_REMOTE_CA_FILE: servers.caFile,
  },
});

describe('runner end to end: include:remote and inputs', () => {
  it('runs a remote file with inputs, the API inputs of the pipeline and a child given trigger:include:inputs', async () => {
    const dir = join(root, 'repos', 'app');
    makeRepository(dir, {
      '.gitlab-ci.yml': `spec:
  inputs:
    target: { options: [staging, production], default: staging }
---
stages: [build, deploy, children]
include:
  - remote: ${servers.https}/templates/greet.yml
    inputs: { greeting: hello-remote }
deploy:
  stage: deploy
  script:
    - echo "deploying to $[[ inputs.target ]]"
child:
  stage: children
  trigger:
    include:
      - local: ci/child.yml
        inputs: { who: child-input }
    strategy: depend
`,
      'ci/child.yml': `spec:
  inputs:
    who:
---
child-job:
  script:
    - echo "child got $[[ inputs.who ]] from $CI_PIPELINE_SOURCE"
`,
    });
    const id = await coordinator.createProject('app', dir);
    const pipeline = await coordinator.ok<{ id: number }>('POST', `/projects/${id}/pipeline`, {
      ref: 'main',
      inputs: { target: 'production' },
    });
    const done = await coordinator.waitForPipeline(id, pipeline.id);
    assert.equal(done.status, 'success');
    const remote = await coordinator.job(id, pipeline.id, 'remote-job');
    assert.match(await coordinator.trace(id, remote.id), /\nremote says hello-remote\n/);
    const deploy = await coordinator.job(id, pipeline.id, 'deploy');
    assert.match(await coordinator.trace(id, deploy.id), /\ndeploying to production\n/);
    const [bridge] = await coordinator.ok<{ downstream_pipeline: { id: number } }[]>(
      'GET',
      `/projects/${id}/pipelines/${pipeline.id}/bridges`,
    );
    const childJob = await coordinator.job(id, bridge!.downstream_pipeline.id, 'child-job');
    assert.match(await coordinator.trace(id, childJob.id), /\nchild got child-input from parent_pipeline\n/);
    assert.ok(servers.requests.includes('/templates/greet.yml'));
  });
});
