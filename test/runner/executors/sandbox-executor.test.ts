import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stripTimestampPrefixes } from '../../../src/job-log/timestamp-prefix.js';
import { TESSERA_INSTALL_ROOT } from '../../../src/runner/agent.js';
import { executeJob } from '../../../src/runner/execute-job.js';
import { chooseExecutor } from '../../../src/runner/executors/create-executor.js';
import type { JobExecutor } from '../../../src/runner/executors/executor.js';
import { findBubblewrap, sandboxExecutor } from '../../../src/runner/executors/sandbox-executor.js';
import type { JobPayload } from '../../../src/runner/job-payload.js';
import type { JobVariable } from '../../../src/runner/job-variable.js';
import { makeRepository } from '../git-repository.js';
import { processesWith } from '../processes-with.js';

const usable =
  'bwrap' in
  findBubblewrap(process.getuid?.() === 0 ? { name: 'nobody', uid: 65534, gid: 65534 } : undefined);
const skip = usable ? false : 'bubblewrap cannot make a sandbox on this machine';

const root = mkdtempSync(join(tmpdir(), 'tessera-sandbox-'));
const repo = join(root, 'repo');
const buildsDir = join(root, 'builds');
const dataDir = join(root, 'data');
const RUNNER_SECRET = 'runner-environment-secret-5d1c';
const KEK = 'key-encryption-key-material-77aa';
let sha = '';
let nextId = 1;

before(() => {
  sha = makeRepository(repo, { 'README.md': 'hello from the repository\n' });
  mkdirSync(dataDir, { mode: 0o700 });
  writeFileSync(join(dataDir, 'key-encryption-key'), `${KEK}\n`, { mode: 0o600 });
  writeFileSync(join(dataDir, 'tessera.db'), 'not really a database\n', { mode: 0o600 });
  // What the runner's own environment holds must never reach a job.
  process.env.TESSERA_TEST_RUNNER_SECRET = RUNNER_SECRET;
});
after(() => {
  delete process.env.TESSERA_TEST_RUNNER_SECRET;
  rmSync(root, { recursive: true, force: true });
});

function job(
  script: string[],
  extra: { variables?: JobVariable[]; timeout?: number; preGetSources?: string[] } = {},
): JobPayload {
  const id = nextId++;
  return {
    id,
    token: `job-token-${id}-abcdef`,
    variables: extra.variables ?? [],
    steps: [
      { name: 'script', script, timeout: extra.timeout ?? 60, when: 'on_success', allow_failure: false },
    ],
    git_info: { repo_url: repo, ref: 'main', sha, ref_type: 'branch' },
    job_info: { name: 'test', stage: 'test', project_id: 1, project_name: 'app' },
    runner_info: { timeout: extra.timeout ?? 60 },
    ...(extra.preGetSources
      ? { hooks: [{ name: 'pre_get_sources_script', script: extra.preGetSources }] }
      : {}),
  };
}

function sandbox(network?: 'none'): JobExecutor {
  return chooseExecutor({
    name: 'sandbox',
    installRoot: TESSERA_INSTALL_ROOT,
    hiddenPaths: [dataDir],
    ...(network ? { sandboxNetwork: network } : {}),
  }).executor;
}

async function run(
  payload: JobPayload,
  executor: JobExecutor,
  options: { signal?: AbortSignal; keep?: boolean } = {},
) {
  const chunks: Buffer[] = [];
  const outcome = await executeJob({
    job: payload,
    buildsDir,
    executor,
    onLog: (bytes) => chunks.push(bytes),
    killGraceMs: 300,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.keep ? { keepBuildDir: true } : {}),
  });
  return { outcome, log: stripTimestampPrefixes(Buffer.concat(chunks).toString()) };
}

describe('sandbox executor', { skip }, () => {
  it('says in the log header which executor runs the job', async () => {
    const { outcome, log } = await run(job(['true']), sandbox());
    assert.equal(outcome.state, 'success', log);
    assert.match(
      log,
      /Preparing the "sandbox" executor\nUsing bubblewrap for job \d+ \(test\): the host's network/,
    );
  });

  it("keeps the data directory, the runner's environment and the host's files out of the job", async () => {
    const { outcome, log } = await run(
      job([
        'id -u',
        'cat README.md',
        `cat ${join(dataDir, 'key-encryption-key')} || echo "no key-encryption key"`,
        'cat "$CI_BUILDS_DIR/../data/tessera.db" || echo "no store"',
        'ls "$CI_BUILDS_DIR/.." || echo "no builds root"',
        'cat /proc/1/environ | tr "\\0" "\\n"; env',
        'cat /proc/*/environ 2>/dev/null | tr "\\0" "\\n" | grep -c . || true',
        'touch /usr/sandbox-was-here || echo "host is read-only"',
        'touch "$CI_PROJECT_DIR/mine" && echo "checkout is writable"',
        'ls /root 2>&1 || echo "no home directories"',
        'git log --oneline | wc -l',
      ]),
      sandbox(),
    );
    assert.equal(outcome.state, 'success', log);
    assert.doesNotMatch(log, /^0$/m, 'never root inside');
    assert.match(log, /hello from the repository/);
    assert.match(log, /No such file or directory\nno key-encryption key/);
    assert.match(log, /no store/);
    assert.match(
      log,
      /\$ ls "\$CI_BUILDS_DIR\/\.\." \|\| echo "no builds root"\nbuilds\n\$/,
      'only the builds path is there',
    );
    assert.doesNotMatch(log, new RegExp(KEK));
    assert.doesNotMatch(log, new RegExp(RUNNER_SECRET));
    assert.match(log, /host is read-only/);
    assert.match(log, /checkout is writable/);
    assert.match(log, /no home directories/);
    assert.match(log, /\$ git log --oneline \| wc -l\n1\n/);
  });

  it('runs a pre_get_sources_script hook in the sandbox before the checkout; a failing one fails the job', async () => {
    const { outcome, log } = await run(
      job(['git log --oneline | wc -l', 'cat "$HOME/from-hook"'], {
        preGetSources: [
          'echo "hook uid $(id -u)"',
          `cat ${join(dataDir, 'key-encryption-key')} || echo "hook: no key-encryption key"`,
          'echo "hook sees $(ls -A "$CI_PROJECT_DIR" | wc -l) entries"',
          'echo from-hook > "$HOME/from-hook"',
        ],
      }),
      sandbox(),
    );
    assert.equal(outcome.state, 'success', log);
    assert.doesNotMatch(log, /hook uid 0\n/, 'never root inside');
    assert.doesNotMatch(log, new RegExp(KEK));
    assert.match(log, /\nhook: no key-encryption key\n/);
    assert.match(log, /\nhook sees 0 entries\n/);
    assert.ok(log.indexOf('hook sees 0 entries') < log.indexOf('Checking out '), log);
    assert.match(log, /\$ git log --oneline \| wc -l\n1\n/);
    assert.match(log, /\nfrom-hook\n/);

    const failed = await run(job(['echo script-ran'], { preGetSources: ['false'] }), sandbox());
    assert.deepEqual(
      failed.outcome,
      { state: 'failed', failureReason: 'script_failure', exitCode: 1 },
      failed.log,
    );
    assert.doesNotMatch(failed.log, /script-ran|Checking out/);
  });

  it('follows no link a hook planted where the runner writes next (the script files, artifacts)', async () => {
    // The sandbox as the runner's own user (a runner that is not root): the job's private
    // directory is writable in it.
    const found = findBubblewrap();
    assert.ok('bwrap' in found, 'reason' in found ? found.reason : '');
    const asRunner = sandboxExecutor({
      bwrap: found.bwrap,
      installRoot: TESSERA_INSTALL_ROOT,
      hiddenPaths: [dataDir],
    });
    const target = join(root, 'runner-owned.txt');
    writeFileSync(target, 'runner content\n', { mode: 0o644 });
    const { outcome, log } = await run(
      job(['echo script-ran'], {
        preGetSources: [
          `ln -s ${target} "$HOME/../script.sh"`,
          `ln -s ${target} "$HOME/../after_script.sh"`,
          `ln -s ${target} "$HOME/../artifacts-1.zip"`,
          'ls -l "$HOME/.." | grep -c runner-owned',
        ],
      }),
      asRunner,
    );
    assert.equal(outcome.state, 'success', log);
    assert.match(log, /\n3\n/, 'the links were made');
    assert.match(log, /\nscript-ran\n/);
    assert.equal(readFileSync(target, 'utf8'), 'runner content\n');
  });

  it("cannot see another job's build directory", async () => {
    const first = job(['echo "other job secret" > "$CI_PROJECT_DIR/left-behind"']);
    assert.equal((await run(first, sandbox(), { keep: true })).outcome.state, 'success');
    const firstDir = join(buildsDir, String(first.id));
    const { log } = await run(job([`cat ${firstDir}/app/left-behind || echo "not visible"`]), sandbox());
    assert.match(log, /not visible/);
    assert.doesNotMatch(log, /other job secret/);
  });

  it('ends every process of the job with it, setsid included', async () => {
    const marker = `${process.pid}${nextId}7`;
    const { outcome, log } = await run(
      job([`setsid sleep 3${marker} &`, 'sleep 0.2', 'echo started']),
      sandbox(),
    );
    assert.equal(outcome.state, 'success', log);
    assert.deepEqual(processesWith(`sleep 3${marker}`), []);
  });

  it('kills everything on cancel and on timeout', async () => {
    const cancel = new AbortController();
    const marker = `${process.pid}${nextId}8`;
    const running = run(job([`setsid sleep 4${marker} &`, `sleep 5${marker}`]), sandbox(), {
      signal: cancel.signal,
    });
    for (let i = 0; i < 200 && processesWith(`sleep 5${marker}`).length === 0; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    cancel.abort();
    const canceled = await running;
    assert.equal(canceled.outcome.state, 'canceled', canceled.log);
    assert.deepEqual(processesWith(`4${marker}`), []);
    assert.deepEqual(processesWith(`5${marker}`), []);

    const timedOut = await run(
      job([`setsid sleep 6${marker} &`, `sleep 7${marker}`], { timeout: 1 }),
      sandbox(),
    );
    assert.deepEqual(timedOut.outcome, { state: 'failed', failureReason: 'job_execution_timeout' });
    assert.deepEqual(processesWith(`6${marker}`), []);
  });

  it("shares the host's network by default, and none with --sandbox-network none", async () => {
    const server = createServer((_request, response) => response.end('reached\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const script = [
        `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3 | tail -n 1 || echo "no network"`,
      ];
      const shared = await run(job(script), sandbox());
      assert.match(shared.log, /^reached$/m, shared.log);
      const none = await run(job(script), sandbox('none'));
      assert.match(none.log, /no network/);
      assert.doesNotMatch(none.log, /^reached$/m);
    } finally {
      server.close();
    }
  });

  it('keeps masked values masked', async () => {
    const secret = 'masked-in-the-sandbox-91';
    const { log } = await run(
      job(['echo "$SECRET"'], { variables: [{ key: 'SECRET', value: secret, masked: true }] }),
      sandbox(),
    );
    assert.match(log, /\[MASKED\]/);
    assert.doesNotMatch(log, new RegExp(secret));
  });
});

describe('chooseExecutor', () => {
  it('refuses an unknown executor and network mode', () => {
    assert.throws(() => chooseExecutor({ name: 'vm' }), /--executor must be one of shell, sandbox, docker/);
    assert.throws(
      () => chooseExecutor({ name: 'shell', sandboxNetwork: 'bridge' }),
      /--sandbox-network must be host or none/,
    );
  });

  it('defaults to the sandbox where bubblewrap works, and says why when it falls back to the shell', () => {
    const chosen = chooseExecutor({});
    if (usable) assert.equal(chosen.executor.name, 'sandbox');
    else {
      assert.equal(chosen.executor.name, 'shell');
      assert.match(chosen.fallbackReason ?? '', /bubblewrap/);
    }
  });
});
