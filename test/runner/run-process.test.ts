import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { processAlive, runProcess } from '../../src/runner/run-process.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-run-process-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(
  script: string,
  extra: { timeoutMs?: number; signal?: AbortSignal; onTerminate?: () => void } = {},
) {
  const output: Buffer[] = [];
  const done = runProcess({
    command: 'bash',
    args: ['-c', script],
    cwd: dir,
    env: { PATH: '/usr/bin:/bin', PID_DIR: dir },
    onOutput: (chunk) => output.push(chunk),
    timeoutMs: extra.timeoutMs ?? 30_000,
    signal: extra.signal,
    killGraceMs: 300,
    ...(extra.onTerminate ? { onTerminate: extra.onTerminate } : {}),
  });
  return done.then((result) => ({ ...result, output: Buffer.concat(output).toString() }));
}

async function waitForFile(path: string): Promise<string> {
  for (let i = 0; i < 400; i += 1) {
    try {
      const text = readFileSync(path, 'utf8');
      if (text.endsWith('\n')) return text.trim();
    } catch {
      // not yet written
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${path} never appeared`);
}

describe('runProcess', () => {
  it('collects stdout and stderr and the exit code', async () => {
    const result = await run('echo out; echo err >&2; exit 3');
    assert.equal(result.exitCode, 3);
    assert.equal(result.timedOut, false);
    assert.match(result.output, /out/);
    assert.match(result.output, /err/);
  });

  it('gives the process /dev/null as stdin and only the given environment', async () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion
    const result = await run('cat; echo "home=${HOME:-unset} dir=$PID_DIR"');
    assert.equal(result.exitCode, 0);
    assert.equal(result.output.trim(), `home=unset dir=${dir}`);
  });

  it('kills the whole process group on timeout, background processes included', async () => {
    const pidFile = join(dir, 'timeout.pid');
    const result = await run(`sleep 1000 & echo $! > ${pidFile}; sleep 1000`, { timeoutMs: 1000 });
    assert.equal(result.timedOut, true);
    const pid = Number(await waitForFile(pidFile));
    assert.equal(processAlive(pid), false, 'the background sleep survived the timeout');
  });

  it('calls onTerminate once on timeout and on cancel, never for a process that ends by itself', async () => {
    const calls: string[] = [];
    await run('sleep 1000', { timeoutMs: 300, onTerminate: () => calls.push('timeout') });
    const controller = new AbortController();
    const canceled = run('sleep 1000', {
      signal: controller.signal,
      onTerminate: () => calls.push('cancel'),
    });
    setTimeout(() => controller.abort(), 200);
    await canceled;
    await run('sleep 0.1 & exit 0', { onTerminate: () => calls.push('ended') });
    assert.deepEqual(calls, ['timeout', 'cancel']);
  });

  it('kills the group on cancel, also processes that ignore SIGTERM', async () => {
    const pidFile = join(dir, 'cancel.pid');
    const controller = new AbortController();
    const done = run(`bash -c 'trap "" TERM; sleep 1000' & echo $! > ${pidFile}; wait`, {
      signal: controller.signal,
    });
    const pid = Number(await waitForFile(pidFile));
    controller.abort();
    const result = await done;
    assert.equal(result.canceled, true);
    assert.equal(processAlive(pid), false, 'the TERM-ignoring process survived the cancel');
  });

  it('ends background processes a successful script leaves behind', async () => {
    const pidFile = join(dir, 'leftover.pid');
    const result = await run(`sleep 1000 & echo $! > ${pidFile}; echo done`);
    assert.equal(result.exitCode, 0);
    assert.equal(result.canceled, false);
    const pid = Number(await waitForFile(pidFile));
    assert.equal(processAlive(pid), false, 'the leftover sleep survived the job');
  });
});
