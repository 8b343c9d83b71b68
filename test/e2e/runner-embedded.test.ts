// End to end: `tessera serve --embedded-runner` runs pipelines without a separate runner process,
// and keeps one runner registration across restarts; a separate `tessera runner` rides out a
// coordinator crash (SIGKILL) in the middle of a job without losing the job's result.
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EMBEDDED_RUNNER_TOKEN_FILE } from '../../src/runner/embedded-runner.js';
import { resolveJobUser } from '../../src/runner/job-user.js';
import { makeRepository } from '../runner/git-repository.js';
import { Coordinator, startRunner, waitFor } from './runner-harness.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-e2e-embedded-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('tessera serve --embedded-runner', () => {
  it('runs a pipeline in the coordinator process and reuses its runner after a restart', async () => {
    const coordinator = new Coordinator(join(root, 'embedded-data'));
    try {
      await coordinator.start(['--embedded-runner', '--runner-concurrency', '2']);
      const repo = join(root, 'embedded-repo');
      makeRepository(repo, {
        '.gitlab-ci.yml':
          'stages: [a, b]\none:\n  stage: a\n  script: [echo one]\ntwo:\n  stage: b\n  script: [echo "two in $CI_PROJECT_DIR"]\n',
      });
      const id = await coordinator.createProject('embedded', repo);
      const first = await coordinator.createPipeline(id);
      assert.equal((await coordinator.waitForPipeline(id, first.id)).status, 'success');
      const two = await coordinator.job(id, first.id, 'two');
      assert.match(await coordinator.trace(id, two.id), /two in .*embedded-data-builds\/\d+\/embedded/);
      const tokenFile = join(coordinator.dataDir, EMBEDDED_RUNNER_TOKEN_FILE);
      assert.equal(statSync(tokenFile).mode & 0o777, 0o600);

      await coordinator.stop();
      await coordinator.start(['--embedded-runner']);
      const second = await coordinator.createPipeline(id);
      assert.equal((await coordinator.waitForPipeline(id, second.id)).status, 'success');
      const runners = await coordinator.ok<unknown[]>('GET', '/runners/all');
      assert.equal(runners.length, 1, 'the restart reused the embedded runner');
      assert.ok(
        !coordinator.child?.stderr().includes(readFileSync(tokenFile, 'utf8').trim()),
        'token not logged',
      );
    } finally {
      await coordinator.stop();
    }
  });
});

describe('tessera runner across a coordinator crash', () => {
  it('keeps running the job and delivers its result after the coordinator comes back', async () => {
    const coordinator = new Coordinator(join(root, 'crash-data'));
    const gate = join(root, 'gate');
    const started = join(root, 'started');
    await coordinator.start();
    const runner = startRunner(
      coordinator,
      await coordinator.registerRunner(),
      join(root, 'crash-builds'),
      1,
      // The job signals through files of the test's own directory, which a sandbox would hide.
      ['--executor', 'shell'],
    );
    try {
      const repo = join(root, 'crash-repo');
      makeRepository(repo, {
        '.gitlab-ci.yml': `survivor:\n  script:\n    - echo started > ${started}\n    - until [ -e ${gate} ]; do sleep 0.05; done\n    - echo finished after the crash\n`,
      });
      const id = await coordinator.createProject('crash', repo);
      const pipeline = await coordinator.createPipeline(id);
      await waitFor(() => (existsSync(started) ? true : undefined), 'the job to start');
      await coordinator.stop('SIGKILL');
      writeFileSync(gate, '');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await coordinator.start();
      const job = await coordinator.waitForJob(id, pipeline.id, 'survivor', ['success', 'failed']);
      assert.equal(job.status, 'success');
      assert.match(await coordinator.trace(id, job.id), /finished after the crash\n[\s\S]*Job succeeded/);
      const next = await coordinator.createPipeline(id);
      assert.equal((await coordinator.waitForPipeline(id, next.id)).status, 'success');
    } finally {
      await runner.stop();
      await coordinator.stop();
    }
  });
});

const nobody = (() => {
  try {
    return process.getuid?.() === 0 ? resolveJobUser('nobody') : undefined;
  } catch {
    return undefined;
  }
})();

describe('tessera serve --embedded-runner --runner-job-user', {
  skip: nobody ? false : 'needs root and a nobody user',
}, () => {
  it('runs jobs as the unprivileged user, who cannot read the coordinator data directory', async () => {
    chmodSync(root, 0o755);
    const dataDir = join(root, 'jobuser-data');
    mkdirSync(dataDir, { mode: 0o700 });
    const coordinator = new Coordinator(dataDir);
    try {
      await coordinator.start([
        '--embedded-runner',
        '--runner-job-user',
        'nobody',
        '--runner-builds-dir',
        join(root, 'jobuser-builds'),
      ]);
      const repo = join(root, 'jobuser-repo');
      makeRepository(repo, {
        '.gitlab-ci.yml': `whoami:\n  script:\n    - id -u\n    - ls ${dataDir} || echo "data dir denied"\n    - cat ${dataDir}/admin-token || echo "token denied"\n    - cat /proc/$PPID/environ || echo "runner environment denied"\n`,
      });
      const id = await coordinator.createProject('jobuser', repo);
      const pipeline = await coordinator.createPipeline(id);
      const job = await coordinator.waitForJob(id, pipeline.id, 'whoami', ['success', 'failed']);
      const log = await coordinator.trace(id, job.id);
      assert.equal(job.status, 'success', log);
      assert.match(log, new RegExp(`\\n${nobody?.uid}\\n`));
      assert.match(log, /data dir denied/);
      assert.match(log, /token denied/);
      assert.match(log, /runner environment denied/);
      assert.doesNotMatch(log, new RegExp(coordinator.adminToken));
    } finally {
      await coordinator.stop();
    }
  });
});
