import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findBubblewrap } from '../../src/runner/executors/sandbox-executor.js';
import type { JobPayload } from '../../src/runner/job-payload.js';
import { processAlive } from '../../src/runner/run-process.js';
import { CoordinatorStandIn } from '../runner/coordinator-stand-in.js';
import { makeRepository } from '../runner/git-repository.js';
import { processesWith } from '../runner/processes-with.js';

const BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'tessera-cli-runner-'));
const repo = join(root, 'repo');
const coordinator = new CoordinatorStandIn('cli-runner-token-0123456789');
let sha = '';

function payload(id: number, script: string[]): JobPayload {
  return {
    id,
    token: `cli-job-token-${id}-0123456789`,
    variables: [],
    steps: [{ name: 'script', script, timeout: 60, when: 'on_success', allow_failure: false }],
    git_info: { repo_url: repo, ref: 'main', sha, ref_type: 'branch' },
    job_info: { name: 'cli', stage: 'test', project_id: 1, project_name: 'app' },
    runner_info: { timeout: 60 },
  };
}

function startRunner(args: string[]): {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, [BIN, 'runner', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  child.stdout?.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

/** The process's command line once it has set its title (the runner does so after parsing flags). */
async function waitForCmdline(pid: number): Promise<string> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    if (cmdline === 'tessera runner') return cmdline;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
}

before(async () => {
  sha = makeRepository(repo, { 'README.md': 'cli runner\n' });
  await coordinator.listen();
});
after(async () => {
  await coordinator.close();
  rmSync(root, { recursive: true, force: true });
});

describe('tessera runner', () => {
  it('refuses bad flags with CODE: message and exit 1', async () => {
    const run = startRunner(['--url', 'ftp://x', '--token', 't']);
    assert.equal(await run.exited, 1);
    assert.match(run.stderr(), /^ERR_CONFIG_INVALID: --url must be an http\(s\) URL/);
    const shell = startRunner(['--url', coordinator.url, '--token', 't', '--shell', 'zsh']);
    assert.equal(await shell.exited, 1);
    assert.match(shell.stderr(), /--shell must be bash/);
    const policy = startRunner([
      '--url',
      coordinator.url,
      '--token',
      't',
      '--executor',
      'docker',
      '--docker-pull-policy',
      'sometimes',
      '--builds-dir',
      join(root, 'docker-builds'),
    ]);
    assert.equal(await policy.exited, 1);
    assert.match(
      policy.stderr(),
      /^ERR_CONFIG_INVALID: --docker-pull-policy must be always, if-not-present or never/,
    );
  });

  it('prints the docker executor and its CLI at start', {
    skip: spawnSync('podman', ['--version']).status === 0 ? false : 'podman is not installed',
  }, async () => {
    const run = startRunner([
      '--url',
      coordinator.url,
      '--token',
      't',
      '--executor',
      'docker',
      '--docker-cli',
      'podman',
      '--builds-dir',
      join(root, 'docker-builds'),
    ]);
    for (let i = 0; i < 200 && !/executor: docker/.test(run.stderr()); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    run.child.kill('SIGTERM');
    await run.exited;
    assert.match(run.stderr(), /runner: executor: docker \(podman [0-9.]+\)/);
  });

  it('stops at start with exit 1 on a URL ending in /api/v4 or a refused token, instead of retrying for ever', async () => {
    const wrongUrl = startRunner(['--url', `${coordinator.url}/api/v4`, '--token', coordinator.runnerToken]);
    assert.equal(await wrongUrl.exited, 1);
    // Its last words, after the line that names its executor.
    assert.equal(
      wrongUrl.stderr().split('\n').at(-2),
      `ERR_RUNNER_URL_INVALID: ${coordinator.url}/api/v4 is not a Tessera coordinator (POST ${coordinator.url}/api/v4/api/v4/runners/verify answered HTTP 404): ` +
        `give --url the coordinator's base URL without /api/v4: --url ${coordinator.url}`,
    );
    const refused = startRunner(['--url', coordinator.url, '--token', 'not-the-runner-token-0123']);
    assert.equal(await refused.exited, 1);
    assert.match(
      refused.stderr(),
      /^ERR_RUNNER_TOKEN_REFUSED: the coordinator at \S+ refused the runner token \(HTTP 403\)/m,
    );
    assert.ok(!refused.stderr().includes('not-the-runner-token-0123'));
  });

  it('runs jobs, and on SIGTERM kills the running job and reports it before exiting', async () => {
    const runner = startRunner([
      '--url',
      coordinator.url,
      '--token',
      coordinator.runnerToken,
      // The jobs tell the test their pids through files on the host, which a sandbox would hide.
      '--executor',
      'shell',
      '--builds-dir',
      join(root, 'builds'),
      '--concurrency',
      '2',
    ]);
    try {
      const cmdline = await waitForCmdline(runner.child.pid ?? 0);
      assert.ok(!cmdline.includes(coordinator.runnerToken), 'the token is gone from /proc/<pid>/cmdline');
      const first = coordinator.enqueue(payload(1, ['echo hello from the cli runner']));
      await coordinator.waitFor(() => first.final !== undefined, 'first job');
      assert.equal(first.final?.state, 'success');
      assert.match(first.trace.toString(), /hello from the cli runner/);

      const pidFile = join(root, 'sigterm.pid');
      const second = coordinator.enqueue(payload(2, [`sleep 1000 & echo $! > ${pidFile}`, 'sleep 1000']));
      await coordinator.waitFor(
        () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'),
        'pid file',
      );
      const pid = Number(readFileSync(pidFile, 'utf8'));
      runner.child.kill('SIGTERM');
      assert.equal(await runner.exited, 0, runner.stderr());
      assert.equal(processAlive(pid), false);
      assert.equal(second.final?.state, 'failed');
      assert.equal(second.final?.failure_reason, 'runner_system_failure');
      assert.ok(!runner.stderr().includes(coordinator.runnerToken), 'the runner token is never logged');
    } finally {
      runner.child.kill('SIGKILL');
    }
  });

  it('after a SIGKILL of the runner, the next runner on the builds directory kills what the job left', async () => {
    const buildsDir = join(root, 'builds-crash');
    // A coordinator of its own: a long poll of an earlier test's runner, cut by its exit just
    // after being handed a job, would swallow this test's job (only a real lease expiry re-queues).
    const coordinator = new CoordinatorStandIn('cli-runner-token-crash-0123456789');
    await coordinator.listen();
    const args = [
      '--url',
      coordinator.url,
      '--token',
      coordinator.runnerToken,
      '--builds-dir',
      buildsDir,
      // What a shell job leaves behind is what the next runner must end (a sandbox dies with its runner).
      '--executor',
      'shell',
    ];
    const pidFile = join(root, 'crash.pid');
    const first = startRunner(args);
    let second: ReturnType<typeof startRunner> | undefined;
    try {
      coordinator.enqueue(payload(3, [`sleep 1000 & echo $! > ${pidFile}`, 'sleep 1000']));
      await coordinator
        .waitFor(
          () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'),
          'pid file',
          60_000,
        )
        .catch((error: Error) => {
          throw new Error(`${error.message}; the runner said: ${first.stderr()}`);
        });
      const pid = Number(readFileSync(pidFile, 'utf8'));
      first.child.kill('SIGKILL');
      await first.exited;
      assert.equal(processAlive(pid), true, 'a SIGKILLed runner cannot end its jobs itself');
      second = startRunner(args);
      await coordinator
        .waitFor(() => !processAlive(pid), 'the orphaned job processes to be killed', 60_000)
        .catch((error: Error) => {
          throw new Error(`${error.message}; the second runner said: ${second?.stderr()}`);
        });
      await coordinator.waitFor(() => /killed 1 process group/.test(second?.stderr() ?? ''), 'the log line');
    } finally {
      first.child.kill('SIGKILL');
      second?.child.kill('SIGKILL');
      await Promise.all([first.exited, second?.exited]);
      await coordinator.close();
    }
  });

  it('prints its sandbox executor at start, and a SIGKILLed runner takes its sandboxed jobs with it', {
    skip:
      'bwrap' in
      findBubblewrap(process.getuid?.() === 0 ? { name: 'nobody', uid: 65534, gid: 65534 } : undefined)
        ? false
        : 'bubblewrap cannot make a sandbox on this machine',
  }, async () => {
    const coordinator = new CoordinatorStandIn('cli-runner-token-sandbox-0123456789');
    await coordinator.listen();
    const marker = `10${process.pid}`;
    const runner = startRunner([
      '--url',
      coordinator.url,
      '--token',
      coordinator.runnerToken,
      '--builds-dir',
      join(root, 'sandbox-builds'),
    ]);
    try {
      const job = coordinator.enqueue(
        payload(4, [`setsid sleep ${marker} &`, `echo started; sleep 2${marker}`]),
      );
      await coordinator.waitFor(() => job.trace.toString().includes('started'), 'the job to start', 60_000);
      assert.match(runner.stderr(), /runner: executor: sandbox/);
      assert.match(job.trace.toString(), /Preparing the "sandbox" executor/);
      const sleeping = () =>
        processesWith(`sleep ${marker}`).length + processesWith(`sleep 2${marker}`).length;
      assert.equal(sleeping(), 2);
      runner.child.kill('SIGKILL');
      await runner.exited;
      await coordinator.waitFor(() => sleeping() === 0, 'the sandbox to die with its runner', 10_000);
    } finally {
      runner.child.kill('SIGKILL');
      await runner.exited;
      await coordinator.close();
    }
  });
});
