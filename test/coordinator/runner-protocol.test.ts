import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { expireLeases } from '../../src/coordinator/expire-leases.js';
import { startTestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { makeRepository } from './git-fixture.js';
import { setUpProject } from './project-fixture.js';
import { registerRunner, requestJob, updateJob, variable } from './runner-client.js';

for (const dialect of testDialects()) {
  describe(`runner protocol [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('hands out a job with GitLab’s payload, takes state and trace updates, and reports a cancel', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': `
variables:
  GLOBAL: g
build:
  before_script: [echo before]
  script: [echo build]
  after_script: [echo after]
  variables:
    JOB_VAR: j
  timeout: 10m
`,
      });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      await c.api('POST', `/api/v4/projects/${p.projectId}/variables`, {
        body: { key: 'PLAIN', value: 'p' },
      });
      await c.api('POST', `/api/v4/projects/${p.projectId}/variables`, {
        body: { key: 'ONLY_PROTECTED', value: 'protected-value', protected: true },
      });
      await c.api('POST', `/api/v4/projects/${p.projectId}/variables`, {
        body: { key: 'MASKED', value: 'masked-value-123', masked: true },
      });
      const runnerToken = await registerRunner(c);
      assert.equal(await requestJob(c, runnerToken), null, 'no job: 204 after the wait');
      const pipeline = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
        token: p.developer.token,
      });
      const job = await requestJob(c, runnerToken);
      assert.ok(job);
      assert.match(job.token, /^tsjob-/);
      assert.deepEqual(job.git_info, {
        ...job.git_info,
        repo_url: repo.path,
        ref: 'main',
        sha: pipeline.body.sha,
        ref_type: 'branch',
      });
      assert.equal(job.job_info.name, 'build');
      assert.equal(job.runner_info.timeout, 600);
      assert.deepEqual(job.steps, [
        {
          name: 'script',
          script: ['echo before', 'echo build'],
          timeout: 600,
          when: 'on_success',
          allow_failure: false,
        },
        { name: 'after_script', script: ['echo after'], timeout: 600, when: 'always', allow_failure: true },
      ]);
      assert.equal(variable(job, 'CI_JOB_ID'), String(job.id));
      assert.equal(variable(job, 'CI_PIPELINE_ID'), String(pipeline.body.id));
      assert.equal(variable(job, 'CI_PROJECT_PATH'), 'acme/app');
      assert.equal(variable(job, 'CI_COMMIT_BRANCH'), 'main');
      assert.equal(variable(job, 'CI_COMMIT_SHA'), pipeline.body.sha);
      assert.equal(variable(job, 'CI_SERVER_URL'), c.url.replace('127.0.0.1', 'localhost'));
      assert.equal(variable(job, 'GITLAB_USER_LOGIN'), 'dev-app');
      assert.equal(variable(job, 'GLOBAL'), 'g');
      assert.equal(variable(job, 'JOB_VAR'), 'j');
      assert.equal(variable(job, 'PLAIN'), 'p');
      assert.equal(variable(job, 'ONLY_PROTECTED'), undefined, 'protected variables only on protected refs');
      assert.equal(job.variables.find((v) => v.key === 'MASKED')?.masked, true);
      assert.equal(job.variables.find((v) => v.key === 'CI_JOB_TOKEN')?.masked, true);
      const url = variable(job, 'TESSERA_ID_TOKEN_REQUEST_URL');
      assert.match(url ?? '', /\/api\/v4\/job\/id_token\?api-version=1$/);
      assert.equal(variable(job, 'ACTIONS_ID_TOKEN_REQUEST_URL'), url);
      assert.equal(
        variable(job, 'ACTIONS_ID_TOKEN_REQUEST_TOKEN'),
        variable(job, 'TESSERA_ID_TOKEN_REQUEST_TOKEN'),
      );
      assert.equal(job.variables.find((v) => v.key === 'TESSERA_ID_TOKEN_REQUEST_TOKEN')?.masked, true);
      assert.equal(new Set(job.variables.map((v) => v.key)).size, job.variables.length, 'each key once');

      const keepalive = await updateJob(c, job, { state: 'running' });
      assert.equal(keepalive.status, 200);
      assert.deepEqual(keepalive.body, { status: 'running' });
      assert.equal(keepalive.headers.get('job-status'), 'running');
      const wrong = await updateJob(c, { id: job.id, token: 'tsjob-nope' }, { state: 'running' });
      assert.equal(wrong.status, 403);
      assert.equal(wrong.body.error, 'ERR_JOB_TOKEN_INVALID');
      // A final state is checked by the update that ends the job: a wrong token ends nothing.
      const wrongFinal = await updateJob(c, { id: job.id, token: 'tsjob-nope' }, { state: 'success' });
      assert.equal(wrongFinal.status, 403);
      assert.equal(wrongFinal.body.error, 'ERR_JOB_TOKEN_INVALID');
      const stillRunning = await updateJob(c, job, { state: 'running' });
      assert.deepEqual(stillRunning.body, { status: 'running' });

      const trace = (range: string, text: string) =>
        c.api('PATCH', `/api/v4/jobs/${job.id}/trace`, {
          token: null,
          headers: { 'job-token': job.token, 'content-range': range, 'content-type': 'text/plain' },
          body: text,
        });
      const first = await trace('0-5', 'hello\n');
      assert.equal(first.status, 202);
      assert.equal(first.headers.get('range'), '0-6');
      assert.equal(first.headers.get('job-status'), 'running');
      const gap = await trace('10-12', 'xx');
      assert.equal(gap.status, 416);
      assert.equal(gap.headers.get('range'), '0-6');
      assert.equal((await trace('6-10', 'world')).headers.get('range'), '0-11');
      // Bytes without a Content-Type, as some runners send them.
      const raw = await fetch(`${c.url}/api/v4/jobs/${job.id}/trace`, {
        method: 'PATCH',
        headers: { 'job-token': job.token, 'content-range': '11-13' },
        body: new TextEncoder().encode('!!\n'),
      });
      assert.equal(raw.status, 202);
      assert.equal(raw.headers.get('range'), '0-14');
      // A character cut between two chunks ("é" is C3 A9) is stored whole, and offsets count bytes.
      for (const [offset, byte] of [
        [14, 0xc3],
        [15, 0xa9],
      ] as const) {
        const part: Response = await fetch(`${c.url}/api/v4/jobs/${job.id}/trace`, {
          method: 'PATCH',
          headers: {
            'job-token': job.token,
            'content-range': `${offset}-${offset}`,
            'content-type': 'text/plain',
          },
          body: new Uint8Array([byte]),
        });
        assert.equal(part.headers.get('range'), `0-${offset + 1}`);
      }
      const log = await c.api('GET', `/api/v4/projects/${p.projectId}/jobs/${job.id}/trace`);
      assert.equal(log.text, 'hello\nworld!!\né');

      await c.api('POST', `/api/v4/projects/${p.projectId}/jobs/${job.id}/cancel`, {
        token: p.developer.token,
      });
      const afterCancel = await updateJob(c, job, { state: 'running' });
      assert.deepEqual(afterCancel.body, { status: 'canceled' });
      assert.equal(afterCancel.headers.get('job-status'), 'canceled');
      const late = await updateJob(c, job, { state: 'success', exit_code: 0 });
      assert.deepEqual(late.body, { status: 'canceled' }, 'a canceled job stays canceled');
      assert.ok(!c.logs().includes(job.token));
      assert.ok(!c.logs().includes(variable(job, 'TESSERA_ID_TOKEN_REQUEST_TOKEN')!));
    });

    it('finishes jobs from runner reports and advances the pipeline; refuses bad runner tokens', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml':
          'stages: [a, b]\none:\n  stage: a\n  script: [x]\ntwo:\n  stage: b\n  script: [y]\n',
      });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const runnerToken = await registerRunner(c);
      const bad = await c.api('POST', '/api/v4/jobs/request', {
        token: null,
        body: { token: 'tsrt-unknown' },
      });
      assert.equal(bad.status, 403);
      assert.equal(bad.body.error, 'ERR_RUNNER_TOKEN_INVALID');
      const pipeline = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
        token: p.developer.token,
      });
      const one = await requestJob(c, runnerToken);
      assert.equal(one?.job_info.name, 'one');
      assert.equal(await requestJob(c, runnerToken), null, 'stage b waits for stage a');
      assert.deepEqual((await updateJob(c, one!, { state: 'success', exit_code: 0 })).body, {
        status: 'success',
      });
      const two = await requestJob(c, runnerToken);
      assert.equal(two?.job_info.name, 'two');
      assert.deepEqual(
        (await updateJob(c, two!, { state: 'failed', exit_code: 2, failure_reason: 'script_failure' })).body,
        {
          status: 'failed',
        },
      );
      const done = await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines/${pipeline.body.id}`);
      assert.equal(done.body.status, 'failed');
      const jobTwo = await c.api('GET', `/api/v4/projects/${p.projectId}/jobs/${two!.id}`);
      assert.equal(jobTwo.body.failure_reason, 'script_failure');
      assert.equal(jobTwo.body.exit_code, 2);
    });

    it("carries image and services into the payload as GitLab's runner protocol", async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': `
variables:
  NODE_VERSION: "20"
default:
  image: alpine:3.20
one:
  image:
    name: node:$NODE_VERSION
    entrypoint: [""]
    pull_policy: if-not-present
    docker: {user: "1000"}
  services:
    - postgres:16
    - name: redis:7
      alias: cache
      command: [redis-server]
      variables: {REDIS_PORT: "6380"}
  script: [x]
`,
      });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const runnerToken = await registerRunner(c);
      await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, { token: p.developer.token });
      const job = await requestJob(c, runnerToken);
      assert.ok(job);
      assert.deepEqual(job.image, {
        name: 'node:20',
        entrypoint: [''],
        pull_policy: ['if-not-present'],
        executor_opts: { docker: { user: '1000' } },
        ports: [],
      });
      assert.deepEqual(job.services, [
        { name: 'postgres:16', ports: [], variables: [] },
        {
          name: 'redis:7',
          alias: 'cache',
          command: ['redis-server'],
          ports: [],
          variables: [{ key: 'REDIS_PORT', value: '6380', public: true }],
        },
      ]);
      assert.ok(job.features.failure_reasons.includes('image_pull_failure'));
    });

    it("takes the log's last part with the final state, and refuses one that does not start where the log ends", async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': 'one:\n  script: [x]\n' });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const runnerToken = await registerRunner(c);
      await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, { token: p.developer.token });
      const job = await requestJob(c, runnerToken);
      assert.ok(job);
      const streamed = await c.api('PATCH', `/api/v4/jobs/${job.id}/trace`, {
        token: null,
        headers: { 'job-token': job.token, 'content-range': '0-5', 'content-type': 'text/plain' },
        body: 'hello\n',
      });
      assert.equal(streamed.status, 202);
      // Not where the log ends (6 bytes): 416 with the log's length, and the job keeps running.
      const refused = await updateJob(c, job, { state: 'success', trace: 'done ✓\n', trace_offset: 0 });
      assert.equal(refused.status, 416);
      assert.equal(refused.headers.get('range'), '0-6');
      const running = await c.api('GET', `/api/v4/projects/${p.projectId}/jobs/${job.id}`);
      assert.equal(running.body.status, 'running');
      const taken = await updateJob(c, job, { state: 'success', trace: 'done ✓\n', trace_offset: 6 });
      assert.equal(taken.status, 200);
      assert.equal(taken.headers.get('range'), `0-${6 + Buffer.byteLength('done ✓\n')}`);
      assert.deepEqual(taken.body, { status: 'success' });
      // The job is over: its token appends nothing more, by PATCH (403, as GitLab) or by PUT.
      const late = await c.api('PATCH', `/api/v4/jobs/${job.id}/trace`, {
        token: null,
        headers: {
          'job-token': job.token,
          'content-range': `${6 + Buffer.byteLength('done ✓\n')}-40`,
          'content-type': 'text/plain',
        },
        body: 'appended after the end of the job\n',
      });
      assert.equal(late.status, 403);
      assert.equal(late.body.error, 'ERR_JOB_NOT_RUNNING');
      assert.equal(late.headers.get('job-status'), 'success');
      const again = await updateJob(c, job, {
        state: 'success',
        trace: 'again\n',
        trace_offset: 6 + Buffer.byteLength('done ✓\n'),
      });
      assert.deepEqual(again.body, { status: 'success' });
      const log = await c.api('GET', `/api/v4/projects/${p.projectId}/jobs/${job.id}/trace`);
      assert.equal(log.text, 'hello\ndone ✓\n');
    });

    it('never hands the same job out twice, even to concurrent requests from several runners', async () => {
      const jobs = Array.from({ length: 8 }, (_, i) => `job${i}:\n  script: [echo ${i}]\n`).join('');
      const repo = await makeRepository({ '.gitlab-ci.yml': jobs });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const runners = await Promise.all([registerRunner(c), registerRunner(c), registerRunner(c)]);
      await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, { token: p.developer.token });
      const answers = await Promise.all(Array.from({ length: 14 }, (_, i) => requestJob(c, runners[i % 3]!)));
      const ids = answers.filter((job) => job !== null).map((job) => job!.id);
      assert.equal(ids.length, 8, 'every job handed out');
      assert.equal(new Set(ids).size, 8, 'no job handed out twice');
      assert.equal(answers.filter((job) => job === null).length, 6);
      // All finishing at once still leaves the pipeline with the right status (no lost update).
      await Promise.all(
        answers
          .filter((job) => job !== null)
          .map((job) => updateJob(c, job!, { state: 'success', exit_code: 0 })),
      );
      const pipelines = await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines`);
      assert.equal(pipelines.body[0].status, 'success');
    });

    it('does not lose a job to a long poll whose runner hung up', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': 'job:\n  script: [x]\n' });
      const c = await startTestCoordinator(dialect, { jobRequestWait: 5 });
      const p = await setUpProject(c, repo.path);
      const runnerToken = await registerRunner(c);
      const abort = new AbortController();
      const polling = fetch(`${c.url}/api/v4/jobs/request`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: runnerToken }),
        signal: abort.signal,
      }).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 300));
      abort.abort();
      await polling;
      await new Promise((resolve) => setTimeout(resolve, 100));
      await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, { token: p.developer.token });
      const job = await requestJob(c, runnerToken);
      assert.equal(job?.job_info.name, 'job', 'the next runner gets the job');
    });

    it('matches runner tags and scope', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': 'tagged:\n  script: [x]\n  tags: [gpu]\n' });
      const c = await startTestCoordinator(dialect, { jobRequestWait: 0 });
      const p = await setUpProject(c, repo.path);
      const plain = await registerRunner(c);
      const gpuOtherProject = await registerRunner(c, {
        runner_type: 'group_type',
        group_id: p.groupId,
        tag_list: ['gpu'],
      });
      await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, { token: p.developer.token });
      assert.equal(await requestJob(c, plain), null, 'an untagged runner does not take a tagged job');
      assert.equal(
        (await requestJob(c, gpuOtherProject))?.job_info.name,
        'tagged',
        'a group runner serves the group’s projects',
      );
    });

    it('fails a job whose runner stops reporting with runner_system_failure, and retries it when retry allows', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml':
          'flaky:\n  script: [x]\n  retry:\n    max: 1\n    when: [runner_system_failure]\nonce:\n  script: [y]\n',
      });
      let now = Date.now();
      const c = await startTestCoordinator(dialect, { leaseTimeout: 30 }, { clock: () => now });
      const p = await setUpProject(c, repo.path);
      const runnerToken = await registerRunner(c);
      const pipeline = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
        token: p.developer.token,
      });
      const first = await requestJob(c, runnerToken);
      const second = await requestJob(c, runnerToken);
      now += 20_000;
      await updateJob(c, second!, { state: 'running' });
      now += 15_000;
      assert.equal(await expireLeases(c.server.coordinator), 1, 'only the silent job expires');
      const jobs = await c.api(
        'GET',
        `/api/v4/projects/${p.projectId}/pipelines/${pipeline.body.id}/jobs?include_retried=true`,
      );
      const byId = Object.fromEntries(jobs.body.map((job: { id: number }) => [job.id, job]));
      assert.equal(byId[first!.id].status, 'failed');
      assert.equal(byId[first!.id].failure_reason, 'runner_system_failure');
      const retry = jobs.body.find(
        (job: { name: string; id: number }) => job.name === first!.job_info.name && job.id !== first!.id,
      );
      assert.equal(retry?.status, 'pending');
      assert.equal(byId[second!.id].status, 'running');
      assert.deepEqual((await updateJob(c, first!, { state: 'running' })).body, { status: 'failed' });
    });

    it('fails a job kept alive past its timeout with job_execution_timeout, and takes a runner-side cancel', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': 'slow:\n  script: [x]\n  timeout: 10 seconds\nstopped:\n  script: [y]\n',
      });
      let now = Date.now();
      const c = await startTestCoordinator(
        dialect,
        { leaseTimeout: 30, jobRequestWait: 0 },
        { clock: () => now },
      );
      const p = await setUpProject(c, repo.path);
      const runnerToken = await registerRunner(c);
      await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, { token: p.developer.token });
      const slow = await requestJob(c, runnerToken);
      const stopped = await requestJob(c, runnerToken);
      assert.equal(slow?.job_info.name, 'slow');
      assert.deepEqual((await updateJob(c, stopped!, { state: 'canceled' })).body, { status: 'canceled' });
      now += 20_000;
      await updateJob(c, slow!, { state: 'running' });
      now += 25_000;
      assert.equal(await expireLeases(c.server.coordinator), 1);
      const job = await c.api('GET', `/api/v4/projects/${p.projectId}/jobs/${slow!.id}`);
      assert.equal(job.body.status, 'failed');
      assert.equal(job.body.failure_reason, 'job_execution_timeout');
    });
  });
}
