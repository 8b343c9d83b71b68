import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stripTimestampPrefixes } from '../../src/job-log/timestamp-prefix.js';
import { RunnerAgent } from '../../src/runner/agent.js';
import type { JobPayload } from '../../src/runner/job-payload.js';
import { processAlive } from '../../src/runner/run-process.js';
import { CoordinatorStandIn } from './coordinator-stand-in.js';
import { makeRepository } from './git-repository.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-agent-'));
const repo = join(root, 'repo');
let sha = '';
let nextId = 100;
const coordinator = new CoordinatorStandIn('runner-token-0123456789');
let agent: RunnerAgent;

function payload(script: string[], variables: JobPayload['variables'] = []): JobPayload {
  const id = nextId++;
  return {
    id,
    token: `job-token-${id}-0123456789`,
    variables,
    steps: [{ name: 'script', script, timeout: 60, when: 'on_success', allow_failure: false }],
    git_info: { repo_url: repo, ref: 'main', sha, ref_type: 'branch' },
    job_info: { name: `job${id}`, stage: 'test', project_id: 1, project_name: 'app' },
    runner_info: { timeout: 60 },
  };
}

async function waitForFile(path: string): Promise<string> {
  await coordinator.waitFor(() => existsSync(path) && readFileSync(path, 'utf8').endsWith('\n'), path);
  return readFileSync(path, 'utf8').trim();
}

before(async () => {
  sha = makeRepository(repo, { 'README.md': 'agent test\n' });
  await coordinator.listen();
  agent = new RunnerAgent({
    url: coordinator.url,
    token: coordinator.runnerToken,
    buildsDir: join(root, 'builds'),
    concurrency: 2,
    keepaliveIntervalMs: 100,
    traceIntervalMs: 50,
    backoffMinMs: 50,
    backoffMaxMs: 200,
    killGraceMs: 300,
  });
  await agent.start();
});

after(async () => {
  await agent.stop('abort');
  await coordinator.close();
  rmSync(root, { recursive: true, force: true });
});

describe('RunnerAgent (against a coordinator stand-in)', () => {
  it('runs a job, streams its masked log in order and reports success', async () => {
    const job = coordinator.enqueue(
      payload(
        ['echo "secret=$S"', 'for i in 1 2 3; do echo "line $i"; sleep 0.1; done'],
        [{ key: 'S', value: 'agent-secret-value', masked: true }],
      ),
    );
    await coordinator.waitFor(() => job.final !== undefined, 'final state');
    // The log's last part comes with the final state, from where the streamed part ended.
    const { trace: tail, trace_offset: offset, ...final } = job.final as Record<string, unknown>;
    assert.deepEqual(final, { token: job.payload.token, state: 'success' });
    // With its time and the runner's stream (FF_TIMESTAMPS is on unless the job turns it off).
    assert.match(String(tail), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z 00O Job succeeded\n$/);
    assert.equal(offset, job.trace.length - Buffer.byteLength(String(tail)));
    const log = stripTimestampPrefixes(job.trace.toString());
    assert.match(log, /secret=\[MASKED\]\n/);
    assert.match(log, /line 1\n(.|\n)*line 2\n(.|\n)*line 3\n/);
    assert.match(log, /Job succeeded\n$/);
    assert.ok(
      job.updates.some((update) => update.state === 'running'),
      'keepalive sent while running',
    );
  });

  it('delivers a log tail too large for the final report before it, while the job still runs', async () => {
    // 600,000 bytes printed at the very end: more than one request's worth (256 KiB) is unsent when
    // the script exits, and the coordinator takes no log once the final state is in.
    const job = coordinator.enqueue(payload(["head -c 600000 /dev/zero | tr '\\0' x; echo"]));
    await coordinator.waitFor(() => job.final !== undefined, 'final state');
    // The runner cut the line into 8 KiB parts (`+` lines); read without prefixes it is whole.
    const log = stripTimestampPrefixes(job.trace.toString());
    assert.ok(log.includes(`${'x'.repeat(600_000)}\n`), 'every byte of the output');
    assert.match(log, /Job succeeded\n$/);
  });

  it('runs two jobs at once with --concurrency 2', async () => {
    const gate = join(root, 'gate');
    const a = coordinator.enqueue(
      payload([`echo started > ${join(root, 'a.started')}`, `until [ -e ${gate} ]; do sleep 0.05; done`]),
    );
    const b = coordinator.enqueue(
      payload([`echo started > ${join(root, 'b.started')}`, `until [ -e ${gate} ]; do sleep 0.05; done`]),
    );
    await waitForFile(join(root, 'a.started'));
    await waitForFile(join(root, 'b.started'));
    writeFileSync(gate, '');
    await coordinator.waitFor(() => a.final !== undefined && b.final !== undefined, 'both final states');
    assert.equal(a.final?.state, 'success');
    assert.equal(b.final?.state, 'success');
  });

  it('kills a job the coordinator cancels, leaving no process behind', async () => {
    const pidFile = join(root, 'cancel.pid');
    const job = coordinator.enqueue(payload([`sleep 1000 & echo $! > ${pidFile}`, 'sleep 1000']));
    const pid = Number(await waitForFile(pidFile));
    // Once cancelled, the job's log takes nothing more (as GitLab): what was streamed stays.
    await coordinator.waitFor(() => job.trace.toString().includes('$ sleep 1000'), 'the log streamed');
    coordinator.cancel(job.payload.id);
    await coordinator.waitFor(
      () => agent.runningJobs.length === 0 && job.updates.at(-1)?.state === 'failed',
      'cancel',
    );
    assert.equal(processAlive(pid), false);
    assert.match(job.trace.toString(), /\$ sleep 1000/);
  });

  it('keeps the final state through a coordinator outage and picks up jobs after a restart', async () => {
    const gate = join(root, 'gate2');
    const pidFile = join(root, 'outage.started');
    const job = coordinator.enqueue(
      payload([`echo started > ${pidFile}`, `until [ -e ${gate} ]; do sleep 0.05; done`, 'exit 4']),
    );
    await waitForFile(pidFile);
    coordinator.failWith = 502;
    writeFileSync(gate, '');
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(job.final, undefined, 'no final state while the coordinator is down');
    await coordinator.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    coordinator.failWith = undefined;
    await coordinator.listen();
    await coordinator.waitFor(() => job.final !== undefined, 'final state after the outage');
    // Narrowed to undefined by the check above; the waitFor changed it.
    const reported: Record<string, unknown> = job.final ?? {};
    const { trace: _tail, trace_offset: _offset, ...final } = reported;
    assert.deepEqual(final, {
      token: job.payload.token,
      state: 'failed',
      failure_reason: 'script_failure',
      exit_code: 4,
    });
    assert.match(job.trace.toString(), /ERROR: Job failed: exit code 4\n$/);
    const later = coordinator.enqueue(payload(['echo after restart']));
    await coordinator.waitFor(() => later.final !== undefined, 'a job after the restart');
    assert.equal(later.final?.state, 'success');
  });
});

describe('RunnerAgent.start: verifies the URL and the token first', () => {
  const options = { buildsDir: join(root, 'verify-builds'), backoffMinMs: 20, backoffMaxMs: 50 };

  it('stops on a URL that is not the coordinator base (…/api/v4) and says which URL to give', async () => {
    const stopped = new RunnerAgent({
      ...options,
      url: `${coordinator.url}/api/v4`,
      token: coordinator.runnerToken,
    });
    await assert.rejects(stopped.start(), (error: { code: string; message: string }) => {
      assert.equal(error.code, 'ERR_RUNNER_URL_INVALID');
      assert.equal(
        error.message,
        `${coordinator.url}/api/v4 is not a Tessera coordinator (POST ${coordinator.url}/api/v4/api/v4/runners/verify answered HTTP 404): ` +
          `give --url the coordinator's base URL without /api/v4: --url ${coordinator.url}`,
      );
      return true;
    });
  });

  it('stops on a refused token, without showing it', async () => {
    const token = 'refused-runner-token-0123456789';
    const stopped = new RunnerAgent({ ...options, url: coordinator.url, token });
    await assert.rejects(stopped.start(), (error: { code: string; message: string }) => {
      assert.equal(error.code, 'ERR_RUNNER_TOKEN_REFUSED');
      assert.match(
        error.message,
        /^the coordinator at http:\/\/127\.0\.0\.1:\d+ refused the runner token \(HTTP 403\): give --token/,
      );
      assert.ok(!error.message.includes(token));
      return true;
    });
  });

  it('retries with backoff while the coordinator fails, and starts once it answers', async () => {
    const standIn = new CoordinatorStandIn('runner-token-verify-0123456789');
    await standIn.listen();
    standIn.failWith = 503;
    const logs: string[] = [];
    const waiting = new RunnerAgent({
      ...options,
      url: standIn.url,
      token: standIn.runnerToken,
      log: (message) => logs.push(message),
    });
    const started = waiting.start();
    try {
      await standIn.waitFor(() => logs.length >= 2, 'two failed verifications');
      assert.match(
        logs[0]!,
        /^verifying the runner failed \(runner verification answered HTTP 503\); retrying in \d+ ms$/,
      );
      standIn.failWith = undefined;
      await started;
    } finally {
      await waiting.stop('abort');
      await standIn.close();
    }
  });
});
