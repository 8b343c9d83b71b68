// End to end: a real `tessera serve` process and a real `tessera runner` process run pipelines
// from real git repositories (stages, needs, when, allow_failure, retry, manual, timeout, cancel,
// masking, environment isolation).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { processAlive } from '../../src/runner/run-process.js';
import { makeRepository } from '../runner/git-repository.js';
import { type Child, Coordinator, startRunner, waitFor } from './runner-harness.js';

// Jobs here signal the test through files on the host (markers, pids), which a sandbox would hide;
// the sandbox has tests of its own (runner-sandbox.test.ts).
const SHELL = ['--executor', 'shell'];
const root = mkdtempSync(join(tmpdir(), 'tessera-e2e-runner-'));
const coordinator = new Coordinator(join(root, 'data'));
let runner: Child;

async function project(name: string, files: Record<string, string>): Promise<number> {
  const dir = join(root, 'repos', name);
  makeRepository(dir, files);
  return coordinator.createProject(name, dir);
}

before(async () => {
  await coordinator.start();
  runner = startRunner(coordinator, await coordinator.registerRunner(), join(root, 'builds'), 3, SHELL);
});

after(async () => {
  await runner?.stop();
  await coordinator.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('runner end to end', () => {
  it('runs stages, needs, allow_failure, retry, when: on_failure/always/manual', async () => {
    const marker = join(root, 'retry-marker');
    const id = await project('flow', {
      '.gitlab-ci.yml': `
stages: [build, test, deploy, cleanup]
variables:
  MARKER: ${marker}
build:
  stage: build
  script:
    - echo "building $CI_COMMIT_SHA"
lint:
  stage: test
  needs: [build]
  script: [echo lint ok]
flaky:
  stage: test
  allow_failure: true
  script: [echo failing on purpose, exit 3]
retried:
  stage: test
  retry: 1
  script:
    - if [ -e "$MARKER" ]; then echo second attempt; else touch "$MARKER"; echo first attempt; exit 1; fi
rescue:
  stage: deploy
  when: on_failure
  script: [echo rescue]
release:
  stage: deploy
  when: manual
  script: [echo released by hand]
tidy:
  stage: cleanup
  when: always
  script: [echo tidy]
`,
    });
    const pipeline = await coordinator.createPipeline(id);
    await coordinator.waitForJob(id, pipeline.id, 'tidy', ['success', 'failed']);
    const jobs = await coordinator.jobs(id, pipeline.id, true);
    const byName = (name: string) => jobs.filter((job) => job.name === name);
    assert.equal(byName('build')[0]?.status, 'success');
    assert.equal(byName('lint')[0]?.status, 'success');
    assert.equal(byName('flaky')[0]?.status, 'failed');
    assert.equal(byName('flaky')[0]?.allow_failure, true);
    assert.equal(byName('flaky')[0]?.exit_code, 3);
    assert.deepEqual(
      byName('retried')
        .map((job) => job.status)
        .sort(),
      ['failed', 'success'],
    );
    assert.equal(byName('rescue')[0]?.status, 'skipped');
    assert.equal(byName('release')[0]?.status, 'manual');
    assert.equal(byName('tidy')[0]?.status, 'success');
    const buildLog = await coordinator.trace(id, byName('build')[0]?.id ?? 0);
    assert.match(buildLog, /\$ echo "building \$CI_COMMIT_SHA"\nbuilding [0-9a-f]{40}\n/);
    const flakyLog = await coordinator.trace(id, byName('flaky')[0]?.id ?? 0);
    assert.match(flakyLog, /ERROR: Job failed: exit code 3/);

    const release = byName('release')[0];
    await coordinator.ok('POST', `/projects/${id}/jobs/${release?.id}/play`);
    const played = await coordinator.waitForJob(id, pipeline.id, 'release', ['success', 'failed']);
    assert.equal(played.status, 'success');
    assert.match(await coordinator.trace(id, played.id), /released by hand/);
  });

  it('runs when: on_failure jobs after a failure, and fails the pipeline', async () => {
    const id = await project('failing', {
      '.gitlab-ci.yml': `
stages: [test, notify]
broken:
  stage: test
  script: [echo about to fail, 'false']
  after_script: ['echo "after_script sees $CI_JOB_STATUS"']
notify:
  stage: notify
  when: on_failure
  script: [echo notifying]
`,
    });
    const pipeline = await coordinator.createPipeline(id);
    const done = await coordinator.waitForPipeline(id, pipeline.id);
    assert.equal(done.status, 'failed');
    const broken = await coordinator.job(id, pipeline.id, 'broken');
    assert.equal(broken.failure_reason, 'script_failure');
    assert.equal(broken.exit_code, 1);
    assert.match(await coordinator.trace(id, broken.id), /after_script sees failed/);
    assert.equal((await coordinator.job(id, pipeline.id, 'notify')).status, 'success');
  });

  it('times out a job with job_execution_timeout, leaving no process behind', async () => {
    const pidFile = join(root, 'timeout.pid');
    const id = await project('slow', {
      '.gitlab-ci.yml': `
slow:
  timeout: 5s
  script:
    - sleep 1000 & echo $! > ${pidFile}
    - sleep 1000
`,
    });
    const pipeline = await coordinator.createPipeline(id);
    const job = await coordinator.waitForJob(id, pipeline.id, 'slow', ['failed', 'success']);
    assert.equal(job.failure_reason, 'job_execution_timeout');
    assert.match(await coordinator.trace(id, job.id), /execution took longer than 5 seconds/);
    assert.equal(processAlive(Number(readFileSync(pidFile, 'utf8'))), false);
  });

  it('cancels a running job: the runner kills its whole process group', async () => {
    const pidFile = join(root, 'cancel.pid');
    const id = await project('cancel', {
      '.gitlab-ci.yml': `
long:
  script:
    - (sleep 1000; echo never) & echo $! > ${pidFile}
    - sleep 1000
`,
    });
    const pipeline = await coordinator.createPipeline(id);
    await waitFor(
      () => (existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n') ? true : undefined),
      'pid file',
    );
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const job = await coordinator.job(id, pipeline.id, 'long');
    await coordinator.ok('POST', `/projects/${id}/jobs/${job.id}/cancel`);
    await waitFor(() => (processAlive(pid) ? undefined : true), 'the job processes to die', 15_000);
    const canceled = await coordinator.waitForJob(id, pipeline.id, 'long', ['canceled']);
    assert.equal(canceled.status, 'canceled');
  });

  it('masks secrets in the log, also split across writes, and isolates the environment', async () => {
    const id = await project('masking', {
      '.gitlab-ci.yml': `
show:
  id_tokens:
    MY_ID_TOKEN:
      aud: https://example.test
  script:
    - echo "token=$MY_ID_TOKEN"
    - echo "request=$TESSERA_ID_TOKEN_REQUEST_TOKEN job=$CI_JOB_TOKEN"
    - printf 'split=%s' "\${PROJECT_SECRET:0:5}"; sleep 0.3; printf '%s\\n' "\${PROJECT_SECRET:5}"
    - echo "runner-env=\${TESSERA_RUNNER_TOKEN:-absent} home=$HOME"
    - env | cut -d= -f1 | sort | tr '\\n' ' '; echo
`,
    });
    await coordinator.ok('POST', `/projects/${id}/variables`, {
      key: 'PROJECT_SECRET',
      value: 'project-secret-value-123',
      masked: true,
    });
    const pipeline = await coordinator.createPipeline(id);
    const job = await coordinator.waitForJob(id, pipeline.id, 'show', ['success', 'failed']);
    const log = await coordinator.trace(id, job.id);
    assert.equal(job.status, 'success', log);
    assert.match(log, /token=\[MASKED\]\n/);
    assert.match(log, /request=\[MASKED\] job=\[MASKED\]\n/);
    assert.match(log, /split=\[MASKED\]\n/);
    assert.doesNotMatch(log, /project-secret-value-123|eyJ/);
    assert.match(log, new RegExp(`runner-env=absent home=${root}/builds/\\d+\\.tmp/home`));
    assert.doesNotMatch(log, /\bNODE_|npm_|TESSERA_LOG_LEVEL|TESSERA_RUNNER_TOKEN /);
  });
});
