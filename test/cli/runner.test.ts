import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { JobPayload } from '../../src/runner/job-payload.js';
import { processAlive } from '../../src/runner/run-process.js';
import { CoordinatorStandIn } from '../runner/coordinator-stand-in.js';
import { makeRepository } from '../runner/git-repository.js';

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

  it('runs jobs, and on SIGTERM kills the running job and reports it before exiting', async () => {
    const runner = startRunner([
      '--url',
      coordinator.url,
      '--token',
      coordinator.runnerToken,
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
    const args = ['--url', coordinator.url, '--token', coordinator.runnerToken, '--builds-dir', buildsDir];
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
      await coordinator.waitFor(() => !processAlive(pid), 'the orphaned job processes to be killed', 60_000);
      await coordinator.waitFor(() => /killed 1 process group/.test(second?.stderr() ?? ''), 'the log line');
    } finally {
      first.child.kill('SIGKILL');
      second?.child.kill('SIGKILL');
      await Promise.all([first.exited, second?.exited]);
      await coordinator.close();
    }
  });
});
