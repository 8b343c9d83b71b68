// End to end: the GitLab dialect through a real `tessera serve` and a real `tessera runner`:
// parallel: N, parallel:matrix with needs:parallel:matrix, include:local with inputs into a file
// with a spec: header, and include:local wildcards over the commit's files.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeRepository } from '../runner/git-repository.js';
import { type Child, Coordinator, startRunner } from './runner-harness.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-e2e-dialect-'));
const coordinator = new Coordinator(join(root, 'data'));
let runner: Child;

before(async () => {
  await coordinator.start();
  runner = startRunner(coordinator, await coordinator.registerRunner(), join(root, 'builds'), 2);
});

after(async () => {
  await runner?.stop();
  await coordinator.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('runner end to end: GitLab dialect', () => {
  it('runs parallel and matrix jobs with their variables, and needs on a matrix', async () => {
    const dir = join(root, 'repos', 'parallel');
    makeRepository(dir, {
      '.gitlab-ci.yml': `
stages: [test, report]
include:
  - local: ci/greet.yml
    inputs:
      who: matrix fan
  - local: ci/jobs/**.yml
test:
  parallel: 2
  script: [echo "node $CI_NODE_INDEX of $CI_NODE_TOTAL"]
build:
  parallel:
    matrix:
      - ARCH: [amd64, arm64]
        NODE: 22
  script: [echo "arch=$ARCH node=$NODE index=$CI_NODE_INDEX/$CI_NODE_TOTAL"]
report:
  stage: report
  needs:
    - test
    - job: build
      parallel:
        matrix:
          - ARCH: arm64
            NODE: 22
  script: [echo report]
`,
      'ci/jobs/more/extra.yml': 'extra:\n  script: [echo extra from a wildcard]\n',
      'ci/greet.yml': `spec:
  inputs:
    who:
      description: whom to greet
    times:
      type: number
      default: 2
---
greet:
  stage: test
  script:
    - echo hello $[[ inputs.who | posix_escape ]] x$[[ inputs.times ]]
`,
    });
    const id = await coordinator.createProject('parallel', dir);
    const pipeline = await coordinator.createPipeline(id);
    const done = await coordinator.waitForPipeline(id, pipeline.id);
    const jobs = await coordinator.jobs(id, pipeline.id);
    assert.deepEqual(jobs.map((job) => job.name).sort(), [
      'build: [amd64, 22]',
      'build: [arm64, 22]',
      'extra',
      'greet',
      'report',
      'test 1/2',
      'test 2/2',
    ]);
    assert.equal(done.status, 'success', JSON.stringify(jobs));
    const log = async (name: string) =>
      coordinator.trace(id, (await coordinator.job(id, pipeline.id, name)).id);
    assert.match(await log('test 1/2'), /\nnode 1 of 2\n/);
    assert.match(await log('test 2/2'), /\nnode 2 of 2\n/);
    assert.match(await log('build: [arm64, 22]'), /\narch=arm64 node=22 index=2\/2\n/);
    assert.match(await log('build: [amd64, 22]'), /\narch=amd64 node=22 index=1\/2\n/);
    assert.match(await log('greet'), /\nhello matrix fan x2\n/);
  });
});
