import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { stripTimestampPrefixes } from '../../src/job-log/timestamp-prefix.js';
import { executeJob, parseGoDuration } from '../../src/runner/execute-job.js';
import { shellExecutor } from '../../src/runner/executors/shell-executor.js';
import type { JobPayload } from '../../src/runner/job-payload.js';
import { resolveJobUser } from '../../src/runner/job-user.js';
import type { JobVariable } from '../../src/runner/job-variable.js';
import { processAlive } from '../../src/runner/run-process.js';
import { commitFiles, makeRepository } from './git-repository.js';
import { startVaultStandIn } from './vault-stand-in.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-execute-job-'));
const repo = join(root, 'repo');
const buildsDir = join(root, 'builds');
let sha = '';
let nextId = 1;
after(() => rmSync(root, { recursive: true, force: true }));
before(() => {
  sha = makeRepository(repo, {
    'README.md': 'hello from the repository\n',
    'scripts/greet.sh': 'echo "greet $1"\n',
  });
});

function job(
  script: string[],
  extra: {
    variables?: JobVariable[];
    after?: string[];
    timeout?: number;
    sha?: string;
    preGetSources?: string[];
  } = {},
): JobPayload {
  const id = nextId++;
  return {
    id,
    token: `job-token-${id}-abcdef`,
    variables: extra.variables ?? [],
    steps: [
      { name: 'script', script, timeout: extra.timeout ?? 60, when: 'on_success', allow_failure: false },
      ...(extra.after
        ? [{ name: 'after_script', script: extra.after, timeout: 5, when: 'always', allow_failure: true }]
        : []),
    ],
    git_info: { repo_url: repo, ref: 'main', sha: extra.sha ?? sha, ref_type: 'branch' },
    job_info: { name: 'test', stage: 'test', project_id: 1, project_name: 'app' },
    runner_info: { timeout: extra.timeout ?? 60 },
    ...(extra.preGetSources
      ? { hooks: [{ name: 'pre_get_sources_script', script: extra.preGetSources }] }
      : {}),
  };
}

async function run(payload: JobPayload, signal?: AbortSignal) {
  const chunks: Buffer[] = [];
  const outcome = await executeJob({
    job: payload,
    buildsDir,
    onLog: (b) => chunks.push(b),
    signal,
    killGraceMs: 300,
  });
  const raw = Buffer.concat(chunks).toString();
  // What the tests below read is the text; the prefixes (FF_TIMESTAMPS, on by default) have their own test.
  return { outcome, log: stripTimestampPrefixes(raw), raw };
}

async function waitForFile(path: string): Promise<string> {
  for (let i = 0; i < 400; i += 1) {
    if (existsSync(path)) {
      const text = readFileSync(path, 'utf8');
      if (text.endsWith('\n')) return text.trim();
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${path} never appeared`);
}

describe('executeJob', () => {
  it('checks out the commit and runs the script with GitLab-style command echo', async () => {
    const { outcome, log } = await run(
      job(['cat README.md', 'bash scripts/greet.sh world', 'echo "dir=$CI_PROJECT_DIR"']),
    );
    assert.deepEqual(outcome, { state: 'success' });
    assert.match(log, /\$ cat README.md\nhello from the repository\n/);
    assert.match(log, /\$ bash scripts\/greet.sh world\ngreet world\n/);
    assert.match(log, new RegExp(`dir=${join(buildsDir, '\\d+', 'app')}`));
    assert.match(log, /Job succeeded\n$/);
    assert.deepEqual(
      [...new Set(buildDirectories())].filter((name) => name !== '.cache' && name !== '.process-groups'),
      [],
      'build directories are removed after the job',
    );
  });

  it('checks out a later commit of the same repository from the cache', async () => {
    const second = commitFiles(repo, { 'README.md': 'second version\n' }, 'second');
    const { outcome, log } = await run(job(['cat README.md'], { sha: second }));
    assert.equal(outcome.state, 'success');
    assert.match(log, /second version/);
  });

  it('recovers when the repository cache is removed under a running runner', async () => {
    rmSync(join(buildsDir, '.cache'), { recursive: true, force: true });
    const { outcome, log } = await run(job(['cat README.md']));
    assert.equal(outcome.state, 'success', log);
  });

  it('fails with script_failure and the exit code, stopping at the first failing command (pipefail)', async () => {
    const { outcome, log } = await run(job(['echo one', 'false | cat', 'echo never']));
    assert.deepEqual(outcome, { state: 'failed', failureReason: 'script_failure', exitCode: 1 });
    assert.doesNotMatch(log, /never/);
    assert.match(log, /ERROR: Job failed: exit code 1/);
  });

  it('masks job variables, the job token and file variables, also across writes', async () => {
    const secret = 'very-secret-value-42';
    const { outcome, log } = await run(
      job(
        [
          'echo "plain: $MY_SECRET"',
          // Two separate writes, split in the middle of the value.
          // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion
          'printf "split: %s" "${MY_SECRET:0:7}"; sleep 0.05; printf "%s\\n" "${MY_SECRET:7}"',
          'cat "$MY_FILE"; echo',
          'echo "not masked: $PLAIN"',
        ],
        {
          variables: [
            { key: 'MY_SECRET', value: secret, masked: true },
            { key: 'MY_FILE', value: 'file-secret-content', masked: true, file: true },
            { key: 'PLAIN', value: 'visible-value' },
          ],
        },
      ),
    );
    assert.equal(outcome.state, 'success');
    assert.ok(!log.includes(secret) && !log.includes('file-secret-content'));
    assert.match(log, /plain: \[MASKED\]/);
    assert.match(log, /split: \[MASKED\]/);
    assert.match(log, /\n\[MASKED\]\n/);
    assert.match(log, /not masked: visible-value/);
  });

  it('prefixes every line with its time and stream as GitLab Runner (FF_TIMESTAMPS), masking intact', async () => {
    const secret = 'very-secret-value-43';
    const { outcome, raw } = await run(
      job(
        [
          // biome-ignore lint/suspicious/noTemplateCurlyInString: bash parameter expansion
          'printf "split: %s" "${MY_SECRET:0:9}"; sleep 0.05; printf "%s\\n" "${MY_SECRET:9}"',
          'echo "to stderr" >&2',
          'printf "10%%\\r"; sleep 0.05; printf "100%%\\n"',
        ],
        { variables: [{ key: 'MY_SECRET', value: secret, masked: true }] },
      ),
    );
    assert.equal(outcome.state, 'success', raw);
    assert.ok(!raw.includes(secret), raw);
    const lines = raw.replace(/\n$/, '').split('\n');
    const prefix = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z [0-9a-f]{2}[OE][ +]/;
    for (const line of lines) assert.match(line, prefix, line);
    assert.match(raw, /^\S+Z 00O Running with tessera runner/);
    assert.match(raw, /Z 01O split: \[MASKED\]\n/);
    // The script's stderr is its own stream (the shell executor's bash sends it there).
    assert.match(raw, /Z 01[OE] to stderr\n/);
    // A carriage return without a newline goes out at once; the rest of the line follows as `+`.
    assert.match(raw, /Z 01O 10%\r\n\S+Z 01O\+100%\n/);
    const times = lines.map((line) => Date.parse(line.slice(0, 27)));
    assert.ok(
      times.every((time, i) => i === 0 || time >= (times[i - 1] as number)),
      'in order',
    );
  });

  it("keeps a script's last line without a newline before the runner's next messages", async () => {
    const { outcome, raw } = await run(job(['printf "no newline at the end"'], { after: ['printf after'] }));
    assert.equal(outcome.state, 'success', raw);
    const text = stripTimestampPrefixes(raw);
    assert.match(text, /\nno newline at the end\nRunning after_script\n[\s\S]*\nafter\nJob succeeded\n$/);
  });

  it('writes no prefix when the job sets FF_TIMESTAMPS to false', async () => {
    const { outcome, raw } = await run(
      job(['echo plain'], { variables: [{ key: 'FF_TIMESTAMPS', value: 'false' }] }),
    );
    assert.equal(outcome.state, 'success', raw);
    assert.match(raw, /^Running with tessera runner/);
    assert.match(raw, /\nplain\n/);
  });

  it('builds the environment from the job variables only', async () => {
    process.env.TESSERA_RUNNER_PRIVATE = 'runner-only-value';
    try {
      const { log } = await run(job(['env | sort'], { variables: [{ key: 'JOB_VAR', value: 'job-value' }] }));
      assert.match(log, /JOB_VAR=job-value/);
      assert.match(log, /PATH=\/usr\/local\/sbin:/);
      assert.doesNotMatch(log, /TESSERA_RUNNER_PRIVATE|runner-only-value/);
    } finally {
      delete process.env.TESSERA_RUNNER_PRIVATE;
    }
  });

  it('times out, kills everything the job started, and still runs after_script', async () => {
    const pidFile = join(root, 'timeout.pid');
    const { outcome, log } = await run(
      job([`sleep 1000 & echo $! > ${pidFile}`, 'sleep 1000'], {
        timeout: 2,
        after: ['echo "after: $CI_JOB_STATUS"'],
      }),
    );
    assert.deepEqual(outcome, { state: 'failed', failureReason: 'job_execution_timeout' });
    assert.match(log, /after: failed/);
    assert.match(log, /execution took longer than 2 seconds/);
    assert.equal(processAlive(Number(await waitForFile(pidFile))), false);
  });

  it('cancels: kills the process group and ends canceled', async () => {
    const pidFile = join(root, 'cancel.pid');
    const controller = new AbortController();
    const done = run(job([`sleep 1000 & echo $! > ${pidFile}`, 'sleep 1000']), controller.signal);
    const pid = Number(await waitForFile(pidFile));
    controller.abort();
    const { outcome, log } = await done;
    assert.equal(outcome.state, 'canceled');
    assert.match(log, /Job failed: canceled/);
    assert.equal(processAlive(pid), false);
  });

  it('runs after_script after a failure, and its failure does not change the result', async () => {
    const { outcome, log } = await run(
      job(['exit 7'], { after: ['echo "after: $CI_JOB_STATUS"', 'exit 3'] }),
    );
    assert.deepEqual(outcome, { state: 'failed', failureReason: 'script_failure', exitCode: 7 });
    assert.match(log, /\$ echo "after: \$CI_JOB_STATUS"\nafter: failed\n/);
    assert.match(log, /after_script failed with exit code 3/);
  });

  it('gives after_script its own short timeout (RUNNER_AFTER_SCRIPT_TIMEOUT), not the job timeout', async () => {
    const payload = job(['echo main'], {
      variables: [{ key: 'RUNNER_AFTER_SCRIPT_TIMEOUT', value: '1s' }],
      after: ['sleep 1000'],
    });
    const withLongStep: JobPayload = {
      ...payload,
      steps: payload.steps.map((step) => (step.name === 'after_script' ? { ...step, timeout: 3600 } : step)),
    };
    const { outcome, log } = await run(withLongStep);
    assert.deepEqual(outcome, { state: 'success' });
    assert.match(log, /WARNING: after_script timed out after 1 seconds/);
    assert.deepEqual(['90', '10m', '1h30m', '45s', '1.5m', '0', 'soon', undefined].map(parseGoDuration), [
      90,
      600,
      5400,
      45,
      90,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('resolves Vault secrets into masked file variables before the script (Vault stand-in)', async () => {
    const pair = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256' };
    const vault = await startVaultStandIn({
      jwks: { keys: [jwk] },
      issuer: 'http://issuer.test',
      roles: { ci: { boundAudiences: ['vault'] } },
      kv2: { secret: { 'ci/db': { password: 'db-password-from-vault' } } },
    });
    try {
      const jwt = await new SignJWT({})
        .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'JWT' })
        .setIssuer('http://issuer.test')
        .setAudience('vault')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(pair.privateKey);
      const server = {
        url: '$VAULT_SERVER_URL',
        auth: { name: 'jwt', path: 'jwt', data: { jwt: '$VAULT_ID_TOKEN', role: 'ci' } },
      };
      const payload: JobPayload = {
        ...job(['echo "path=$DB_PASSWORD"', 'cat "$DB_PASSWORD"; echo', 'echo "missing-ok"'], {
          variables: [
            { key: 'VAULT_SERVER_URL', value: vault.url },
            { key: 'VAULT_ID_TOKEN', value: jwt, masked: true },
          ],
        }),
        secrets: {
          DB_PASSWORD: {
            vault: { server, engine: { name: 'kv-v2', path: 'secret' }, path: 'ci/db', field: 'password' },
          },
        },
      };
      const { outcome, log } = await run(payload);
      assert.equal(outcome.state, 'success', log);
      assert.match(log, /path=\/.*DB_PASSWORD/);
      assert.match(log, /\n\[MASKED\]\n/);
      assert.ok(!log.includes('db-password-from-vault') && !log.includes(jwt));

      const missing: JobPayload = {
        ...payload,
        id: nextId++,
        secrets: {
          X: { vault: { server, engine: { name: 'kv-v2', path: 'secret' }, path: 'ci/none', field: 'x' } },
        },
      };
      const failed = await run(missing);
      assert.deepEqual(failed.outcome, { state: 'failed', failureReason: 'runner_system_failure' });
      assert.match(failed.log, /resolving secrets: secret X: secret\/data\/ci\/none does not exist in Vault/);
      assert.doesNotMatch(failed.log, /missing-ok/);
    } finally {
      await vault.close();
    }
  });

  const nobody = (() => {
    try {
      return process.getuid?.() === 0 ? resolveJobUser('nobody') : undefined;
    } catch {
      return undefined;
    }
  })();
  it("runs the job as --job-user: it owns its checkout but cannot read the runner's files", {
    skip: nobody ? false : 'needs root and a nobody user',
  }, async () => {
    chmodSync(root, 0o755);
    const privateFile = join(root, 'runner-private.txt');
    writeFileSync(privateFile, 'runner secret\n', { mode: 0o600 });
    const chunks: Buffer[] = [];
    const outcome = await executeJob({
      job: job(
        [
          'id -u',
          'touch new-file-in-checkout',
          'cat README.md',
          'cat "$CERT"; echo',
          `cat ${privateFile} || echo "denied as expected"`,
        ],
        { variables: [{ key: 'CERT', value: 'file-variable-content', file: true }], after: ['id -u'] },
      ),
      buildsDir,
      onLog: (bytes) => chunks.push(bytes),
      killGraceMs: 300,
      executor: shellExecutor(nobody),
    });
    const log = stripTimestampPrefixes(Buffer.concat(chunks).toString());
    assert.equal(outcome.state, 'success', log);
    assert.equal((log.match(new RegExp(`\\n${nobody?.uid}\\n`, 'g')) ?? []).length, 2, log);
    assert.match(log, /hello from the repository|second version/);
    assert.match(log, /file-variable-content/);
    assert.match(log, /Permission denied\ndenied as expected/);
    assert.doesNotMatch(log, /runner secret/);
  });

  it('runs a pre_get_sources_script hook as --job-user, who then owns its checkout', {
    skip: nobody ? false : 'needs root and a nobody user',
  }, async () => {
    const chunks: Buffer[] = [];
    const outcome = await executeJob({
      job: job(['touch new-file-in-checkout', 'cat "$HOME/from-hook"', 'cat README.md'], {
        preGetSources: [
          'echo "hook uid $(id -u)"',
          'echo hook-home > "$HOME/from-hook"',
          'touch "$CI_PROJECT_DIR/left"',
        ],
      }),
      buildsDir,
      onLog: (bytes) => chunks.push(bytes),
      killGraceMs: 300,
      executor: shellExecutor(nobody),
    });
    const log = stripTimestampPrefixes(Buffer.concat(chunks).toString());
    assert.equal(outcome.state, 'success', log);
    assert.match(log, new RegExp(`hook uid ${nobody?.uid}\\n`));
    assert.match(log, /\nhook-home\n/);
    assert.match(log, /hello from the repository|second version/);
  });

  it("checks out in the job's shell, unswayed by the job's GIT_* variables", async () => {
    const { outcome, log } = await run(
      job(['cat README.md', 'git -C "$CI_PROJECT_DIR" --git-dir=.git rev-parse HEAD'], {
        variables: [
          { key: 'GIT_DIR', value: '/nonexistent' },
          { key: 'GIT_WORK_TREE', value: '/nonexistent' },
          { key: 'GIT_INDEX_FILE', value: '/nonexistent/index' },
        ],
      }),
    );
    assert.equal(outcome.state, 'success', log);
    assert.match(log, /hello from the repository/);
    assert.match(log, new RegExp(sha));
  });

  it('reports a checkout that fails in the shell as a system failure, runs nothing, and fetches again next time', async () => {
    // Warm and known, then damaged: the cache keeps its directory but loses every object.
    assert.equal((await run(job(['true']))).outcome.state, 'success');
    const [cache] = readdirSync(join(buildsDir, '.cache'));
    const objects = join(buildsDir, '.cache', cache as string, 'objects');
    for (const entry of readdirSync(objects)) {
      if (entry !== 'info') rmSync(join(objects, entry), { recursive: true, force: true });
    }
    const damaged = await run(job(['echo user command ran'], { after: ['echo after_script ran'] }));
    assert.deepEqual(damaged.outcome, { state: 'failed', failureReason: 'runner_system_failure' });
    assert.match(
      damaged.log,
      /ERROR: Job failed \(system failure\): preparing: cannot check out .*git checkout failed/,
    );
    assert.doesNotMatch(damaged.log, /user command ran|after_script ran/);
    const next = await run(job(['cat README.md']));
    assert.equal(next.outcome.state, 'success', next.log);
    assert.match(next.log, /Fetching changes/);
  });

  it('runs hooks:pre_get_sources_script before the fetch and checkout, in the job environment, masked', async () => {
    const chunks: Buffer[] = [];
    const outcome = await executeJob({
      job: job(['cat "$HOME/hook-was-here"', 'cat README.md'], {
        preGetSources: [
          'echo "hook for $CI_JOB_NAME sees $SECRET_VALUE"',
          'echo "entries before checkout: $(ls -A "$CI_PROJECT_DIR" | wc -l)"',
          'echo "written by the hook" > "$HOME/hook-was-here"',
        ],
        variables: [
          { key: 'CI_JOB_NAME', value: 'test' },
          { key: 'SECRET_VALUE', value: 'hook-secret-123456', masked: true },
        ],
      }),
      // A builds directory of its own: its empty repository cache makes the runner fetch.
      buildsDir: join(root, 'builds-hook'),
      onLog: (bytes) => chunks.push(bytes),
      killGraceMs: 300,
    });
    const log = stripTimestampPrefixes(Buffer.concat(chunks).toString());
    assert.deepEqual(outcome, { state: 'success' }, log);
    assert.doesNotMatch(log, /hook-secret-123456/);
    const order = [
      'Getting source from Git repository\n',
      '$ echo "hook for $CI_JOB_NAME sees $SECRET_VALUE"\n',
      '\nhook for test sees [MASKED]\n',
      '\nentries before checkout: 0\n',
      '\nFetching changes from ',
      '\nChecking out ',
      'Executing "step_script" stage of the job script\n',
      '\nwritten by the hook\n',
      '\nhello from the repository\n',
    ].map((text) => log.indexOf(text));
    assert.ok(
      order.every((at) => at >= 0),
      log,
    );
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
      log,
    );
  });

  it('fails the job with script_failure when the hook fails, and runs neither checkout nor scripts', async () => {
    const { outcome, log } = await run(
      job(['echo script-ran'], {
        preGetSources: ['echo hook-starts', 'exit 3', 'echo never'],
        after: ['echo after-ran'],
      }),
    );
    assert.deepEqual(outcome, { state: 'failed', failureReason: 'script_failure', exitCode: 3 }, log);
    assert.match(log, /\$ exit 3\n/);
    assert.match(log, /ERROR: Job failed: exit code 3\n$/);
    assert.doesNotMatch(log, /Checking out|script-ran|after-ran|\nnever\n/);
  });

  it('saves no cache of a hooked job whose checkout failed: there is nothing checked out', async () => {
    const chunks: Buffer[] = [];
    const outcome = await executeJob({
      job: {
        ...job(['true'], { preGetSources: ['echo hook-ran'], sha: 'deadbeef'.repeat(5) }),
        cache: [{ key: 'hooked', paths: ['out'], when: 'always', policy: 'pull-push' }],
      },
      buildsDir,
      onLog: (bytes) => chunks.push(bytes),
      killGraceMs: 300,
      jobFiles: { coordinatorUrl: 'http://127.0.0.1:9', cacheDir: join(root, 'hooked-cache') },
    });
    const log = stripTimestampPrefixes(Buffer.concat(chunks).toString());
    assert.deepEqual(outcome, { state: 'failed', failureReason: 'runner_system_failure' }, log);
    assert.match(log, /\nhook-ran\n/);
    assert.match(log, /is not in/);
    assert.doesNotMatch(log, /Saving cache/);
  });

  it('ends a hook that outlives the job timeout with job_execution_timeout', async () => {
    const { outcome, log } = await run(job(['echo script-ran'], { preGetSources: ['sleep 30'], timeout: 1 }));
    assert.deepEqual(outcome, { state: 'failed', failureReason: 'job_execution_timeout' }, log);
    assert.doesNotMatch(log, /script-ran/);
  });

  it('records no process groups when told not to (tessera run: no later runner looks)', async () => {
    const fresh = join(root, 'builds-unrecorded');
    const outcome = await executeJob({
      job: job(['echo hi']),
      buildsDir: fresh,
      onLog: () => undefined,
      recordProcessGroups: false,
    });
    assert.equal(outcome.state, 'success');
    assert.ok(!existsSync(join(fresh, '.process-groups')));
    assert.equal((await run(job(['true']))).outcome.state, 'success');
    assert.ok(existsSync(join(buildsDir, '.process-groups')), 'recorded by default');
  });

  it('fails with runner_system_failure when the commit does not exist', async () => {
    const { outcome, log } = await run(job(['true'], { sha: 'deadbeef'.repeat(5) }));
    assert.deepEqual(outcome, { state: 'failed', failureReason: 'runner_system_failure' });
    assert.match(log, /is not in/);
  });
});

function buildDirectories(): string[] {
  return readdirSync(buildsDir);
}
