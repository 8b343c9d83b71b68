/**
 * `tessera run` end to end: the real CLI as a child process in real temporary git repositories,
 * with its embedded coordinator and runner, real ID tokens and the live discovery endpoint.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
const roots: string[] = [];

after(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

/** A git repository in a fresh temp directory with `files` committed on branch main. */
async function repository(files: Record<string, string>, name = 'demo'): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'tessera-run-test-'));
  roots.push(root);
  const dir = join(root, name);
  execFileSync('git', ['init', '-q', '-b', 'main', dir]);
  for (const [path, content] of Object.entries(files)) await writeFile(join(dir, path), content);
  execFileSync('git', ['add', '.'], { cwd: dir });
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t.invalid', 'commit', '-qm', 'init'], {
    cwd: dir,
  });
  return dir;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tessera run ...args` (plain output: no terminal, NO_COLOR) and collects everything. */
function tesseraRun(
  args: readonly string[],
  cwd?: string,
  extraEnv: NodeJS.ProcessEnv = {},
  onStdout?: (stdout: string, child: ReturnType<typeof spawn>) => void,
  killAfterMs = 90_000,
): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.FORCE_COLOR;
  Object.assign(env, extraEnv);
  for (const [key, value] of Object.entries(extraEnv)) if (value === undefined) delete env[key];
  const child = spawn(process.execPath, [BIN, 'run', ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
    onStdout?.(stdout, child);
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** The summary row of `job`: its cells split on runs of spaces. */
function summaryRow(stdout: string, job: string): string[] | undefined {
  const table = stdout.slice(stdout.lastIndexOf('\njob '));
  const line = table.split('\n').find((row) => row.startsWith(`${job} `));
  return line?.split(/ {2,}/);
}

const MULTI_STAGE = `
stages: [build, test, deploy]
variables:
  GREETING: default
build-a:
  stage: build
  script:
    - echo "building a"
    - echo "second line of a"
build-b:
  stage: build
  script:
    - echo "building b"
unit:
  stage: test
  script:
    - echo "greeting is $GREETING"
    - test -f README.md
lint:
  stage: test
  allow_failure: true
  script:
    - echo "lint is unhappy"
    - exit 3
deploy:
  stage: deploy
  rules:
    - if: $CI_PIPELINE_SOURCE == "push"
  script:
    - echo "deploying $CI_COMMIT_REF_NAME"
`;

describe('tessera run', { timeout: 180_000 }, () => {
  it('runs a passing multi-stage pipeline: headers, logs in one piece, statuses, summary, --var, exit 0', async () => {
    const dir = await repository({ '.gitlab-ci.yml': MULTI_STAGE, 'README.md': 'hi\n' });
    // An untracked file makes the tree dirty: the run says it runs the committed HEAD.
    await writeFile(join(dir, 'scratch.txt'), 'not committed\n');
    const result = await tesseraRun([dir, '--var', 'GREETING=hello from --var']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stderr, /warning: uncommitted changes are not part of this run/);
    assert.match(result.stdout, /^Pipeline #1 for main at [0-9a-f]{8} \(local\/demo\)$/m);
    for (const [job, stage] of [
      ['build-a', 'build'],
      ['build-b', 'build'],
      ['unit', 'test'],
      ['lint', 'test'],
      ['deploy', 'deploy'],
    ]) {
      assert.match(result.stdout, new RegExp(`^== ${job} \\(stage ${stage}\\)$`, 'm'));
    }
    // Each job's log sits whole between its header and its status line.
    const a = result.stdout.slice(result.stdout.indexOf('== build-a (stage build)'));
    const aLog = a.slice(0, a.indexOf('== build-a: passed'));
    assert.match(aLog, /building a\nsecond line of a|building a[\s\S]*second line of a/);
    assert.doesNotMatch(aLog, /building b/);
    assert.match(result.stdout, /^greeting is hello from --var$/m);
    // The runner's time prefixes (FF_TIMESTAMPS) stay in the store; the terminal gets the text.
    assert.doesNotMatch(result.stdout, /\d{6}Z [0-9a-f]{2}[OE][ +]/);
    assert.match(result.stdout, /^== lint: failed \(allowed, exit code 3\) in /m);
    assert.match(result.stdout, /^deploying main$/m);
    assert.deepEqual(summaryRow(result.stdout, 'unit')?.slice(0, 3), ['unit', 'test', 'passed']);
    assert.deepEqual(summaryRow(result.stdout, 'lint')?.slice(0, 3), [
      'lint',
      'test',
      'failed (allowed, exit code 3)',
    ]);
    assert.deepEqual(summaryRow(result.stdout, 'deploy')?.slice(0, 3), ['deploy', 'deploy', 'passed']);
    assert.match(result.stdout, /^Pipeline #1 passed in \d+\.\ds$/m);
    assert.ok(!result.stdout.includes('\u001b['), 'no colours without a terminal');
  });

  it('runs hooks:pre_get_sources_script (default and own) before the checkout; a failing hook fails its job', async () => {
    const dir = await repository({
      '.gitlab-ci.yml': `
default:
  hooks:
    pre_get_sources_script: [echo "default hook of $CI_JOB_NAME"]
build:
  script: [echo "build sees $(cat README.md)"]
broken:
  stage: test
  hooks:
    pre_get_sources_script:
      - echo "own hook"
      - exit 4
  script: [echo "broken script ran"]
`,
      'README.md': 'the readme\n',
    });
    const result = await tesseraRun([dir]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    const build = result.stdout.slice(result.stdout.indexOf('== build (stage test)'));
    const buildLog = build.slice(0, build.indexOf('== build: passed'));
    assert.match(
      buildLog,
      /Getting source from Git repository\n\$ echo "default hook of \$CI_JOB_NAME"\ndefault hook of build\n/,
    );
    assert.ok(buildLog.indexOf('default hook of build\n') < buildLog.indexOf('Checking out '), buildLog);
    assert.match(buildLog, /^build sees the readme$/m);
    const broken = result.stdout.slice(result.stdout.indexOf('== broken (stage test)'));
    assert.match(broken, /\nown hook\n\$ exit 4\n/);
    assert.doesNotMatch(broken, /default hook|broken script ran/);
    assert.match(result.stdout, /^== broken: failed \(exit code 4\) in /m);
  });

  it('exits 1 when the pipeline fails (after its retry), skipping what comes after', async () => {
    const dir = await repository({
      '.gitlab-ci.yml': `
stages: [build, deploy]
compile:
  stage: build
  retry: 1
  script:
    - echo "about to fail"
    - exit 4
ship:
  stage: deploy
  script:
    - echo "never runs"
`,
    });
    const result = await tesseraRun([], dir);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.equal(result.stdout.match(/^about to fail$/gm)?.length, 2, 'both attempts are shown');
    assert.match(result.stdout, /^== compile: failed \(exit code 4, retried\) in /m);
    assert.match(result.stdout, /^== compile: failed \(exit code 4\) in /m);
    assert.doesNotMatch(result.stdout, /never runs/);
    assert.deepEqual(summaryRow(result.stdout, 'compile')?.slice(0, 3), [
      'compile',
      'build',
      'failed (exit code 4)',
    ]);
    assert.deepEqual(summaryRow(result.stdout, 'ship')?.slice(0, 3), ['ship', 'deploy', 'skipped']);
    assert.match(result.stdout, /^Pipeline #1 failed after /m);
  });

  it('gives a job a real ID token that verifies against the live discovery endpoint, masked in the log', async () => {
    const out = await mkdtemp(join(tmpdir(), 'tessera-run-token-'));
    roots.push(out);
    const tokenFile = join(out, 'token');
    const dir = await repository(
      {
        '.gitlab-ci.yml': `
verify:
  id_tokens:
    MY_ID_TOKEN:
      aud: https://relying-party.example
  script:
    - echo "the token is $MY_ID_TOKEN"
    - bash check.sh
`,
        'check.sh': `set -eo pipefail
printf '%s' "$MY_ID_TOKEN" > "$TOKEN_FILE"
curl -sf "$CI_SERVER_URL/.well-known/openid-configuration" > discovery.json
grep -o '"issuer":"[^"]*"' discovery.json
tessera token verify --issuer "$CI_SERVER_URL" --audience https://relying-party.example --token "$MY_ID_TOKEN" > claims.json
grep -o '"project_path": "[^"]*"' claims.json
grep -o '"ref": "[^"]*"' claims.json
grep -o '"pipeline_source": "[^"]*"' claims.json
`,
      },
      'token-demo',
    );
    // The job hands its token to the test through a file on the host, which a sandbox would hide.
    const result = await tesseraRun([dir, '--executor', 'shell', '--var', `TOKEN_FILE=${tokenFile}`]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const token = (await readFile(tokenFile, 'utf8')).trim();
    assert.match(token, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/, 'the job got a JWT');
    assert.match(result.stdout, /^the token is \[MASKED\]$/m);
    const serverUrl = /^CI_SERVER_URL and issuer: (\S+) /m.exec(result.stdout)?.[1];
    assert.ok(serverUrl?.startsWith('http://127.0.0.1:'), result.stdout);
    assert.ok(
      result.stdout.includes(`\n"issuer":"${serverUrl}"\n`),
      'discovery at CI_SERVER_URL names it as issuer',
    );
    assert.match(result.stdout, /^"project_path": "local\/token-demo"$/m);
    assert.match(result.stdout, /^"ref": "main"$/m);
    assert.match(result.stdout, /^"pipeline_source": "push"$/m, 'a local run is a push of the commit');
    for (const text of [result.stdout, result.stderr]) {
      assert.ok(!text.includes(token), 'the token never appears in the output');
      assert.ok(!text.includes(token.split('.')[2] as string), 'nor its signature');
    }
  });

  it('--job runs only the named jobs and what they need, and plays a named manual job', async () => {
    const dir = await repository({
      '.gitlab-ci.yml': `
stages: [build, test, deploy]
build:
  stage: build
  script: [echo "build ran"]
docs:
  stage: build
  script: [echo "docs ran"]
unit:
  stage: test
  needs: [build]
  script: [echo "unit ran"]
other:
  stage: test
  script: [echo "other ran"]
release:
  stage: deploy
  when: manual
  script: [echo "release ran"]
`,
    });
    const result = await tesseraRun([dir, '--job', 'unit', '--job', 'release']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    for (const ran of ['build', 'unit', 'release'])
      assert.match(result.stdout, new RegExp(`^${ran} ran$`, 'm'));
    for (const left of ['docs', 'other']) {
      assert.doesNotMatch(result.stdout, new RegExp(`${left} ran`));
      assert.equal(summaryRow(result.stdout, left), undefined);
    }
    assert.deepEqual(summaryRow(result.stdout, 'release')?.slice(0, 3), ['release', 'deploy', 'passed']);
  });

  it('ends a pipeline blocked by a manual job it was not asked to play, with exit 1', async () => {
    const dir = await repository({
      '.gitlab-ci.yml': `
stages: [build, deploy, after]
build:
  stage: build
  script: [echo "build ran"]
release:
  stage: deploy
  when: manual
  allow_failure: false
  script: [echo "release ran"]
notify:
  stage: after
  script: [echo "notify ran"]
`,
    });
    const result = await tesseraRun([dir]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stdout, /^build ran$/m);
    assert.doesNotMatch(result.stdout, /release ran|notify ran/);
    assert.match(result.stdout, /Pipeline #1 is blocked by a manual job \(name it with --job to run it\)/);
  });

  it('refuses what it cannot run with one line and exit 2: not a repository, an unknown job, no committed config', async () => {
    const plain = await mkdtemp(join(tmpdir(), 'tessera-run-plain-'));
    roots.push(plain);
    const notRepo = await tesseraRun([plain]);
    assert.equal(notRepo.code, 2);
    assert.match(notRepo.stderr, /^ERR_LOCAL_RUN_NOT_A_REPOSITORY: .* is not in a git working copy/);
    assert.equal(notRepo.stderr.trim().split('\n').length, 1, notRepo.stderr);

    const dir = await repository({ '.gitlab-ci.yml': 'only:\n  script: [echo hi]\n' });
    const unknown = await tesseraRun([dir, '--job', 'nope']);
    assert.equal(unknown.code, 2, unknown.stdout + unknown.stderr);
    assert.match(
      unknown.stderr,
      /^ERR_LOCAL_RUN_JOB_NOT_FOUND: the pipeline has no job "nope" .*\(jobs: only\)$/m,
    );

    const badVar = await tesseraRun([dir, '--var', 'no-equals']);
    assert.equal(badVar.code, 2);
    assert.match(badVar.stderr, /^ERR_LOCAL_RUN_VARIABLE_INVALID: /);

    const uncommitted = await repository({ 'README.md': 'hi\n' });
    await writeFile(join(uncommitted, '.gitlab-ci.yml'), 'job:\n  script: [echo hi]\n');
    const noConfig = await tesseraRun([uncommitted]);
    assert.equal(noConfig.code, 2, noConfig.stdout + noConfig.stderr);
    assert.match(
      noConfig.stderr,
      /^ERR_GIT_CONFIG_NOT_FOUND: .*has no \.gitlab-ci\.yml, .*: commit it first/m,
    );
  });

  it('exits 1 on an invalid configuration, naming the path and line', async () => {
    const dir = await repository({
      '.gitlab-ci.yml': 'broken:\n  stage: build\n  script: [echo hi]\n  needs: [ghost]\n',
    });
    const result = await tesseraRun([dir]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /^ERR_PIPELINE_INVALID: /m);
    assert.match(result.stderr, /ghost/);
  });

  it('on Ctrl-C stops the running job, removes its temporary directory and exits 130', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'tessera-run-sigint-'));
    roots.push(tmp);
    const pidFile = join(tmp, 'job.pid');
    const dir = await repository({
      '.gitlab-ci.yml': `
slow:
  script:
    - echo $$ > "$PID_FILE"
    - echo "slow job started"
    - sleep 60
`,
    });
    let sent = false;
    const result = await tesseraRun(
      // The job tells the test its pid through a file on the host, which a sandbox would hide.
      [dir, '--executor', 'shell', '--var', `PID_FILE=${pidFile}`],
      undefined,
      { TMPDIR: tmp },
      (stdout, child) => {
        if (!sent && stdout.includes('slow job started')) {
          sent = true;
          child.kill('SIGINT');
        }
      },
      // Well before the job's 60 s: a cleanup that waits for the job (or a stuck connection) fails.
      30_000,
    );
    assert.ok(sent, result.stdout + result.stderr);
    assert.equal(result.code, 130, result.stdout + result.stderr);
    assert.match(result.stderr, /SIGINT: stopping the running jobs and cleaning up/);
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    assert.throws(() => process.kill(pid, 0), "the job's shell is gone");
    const left = (await readdir(tmp)).filter((name) => name.startsWith('tessera-run-'));
    assert.deepEqual(left, [], 'the temporary directory is removed');
  });

  it('stops the jobs and removes its temporary directory when its output is closed (tessera run | head)', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'tessera-run-epipe-'));
    roots.push(tmp);
    const pidFile = join(tmp, 'job.pid');
    const dir = await repository({
      '.gitlab-ci.yml': `
chatty:
  script:
    - echo $$ > "$PID_FILE"
    - for i in $(seq 1 300); do echo "tick $i"; sleep 0.1; done
`,
    });
    let closed = false;
    const result = await tesseraRun(
      // The job tells the test its pid through a file on the host, which a sandbox would hide.
      [dir, '--executor', 'shell', '--var', `PID_FILE=${pidFile}`],
      undefined,
      { TMPDIR: tmp },
      (stdout, child) => {
        if (!closed && stdout.includes('tick 2')) {
          closed = true;
          child.stdout?.destroy();
        }
      },
      // Well before the job's 30 s of ticks: a run that ignores the closed pipe fails.
      20_000,
    );
    assert.ok(closed, result.stderr);
    assert.equal(result.code, 130, result.stderr);
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    assert.throws(() => process.kill(pid, 0), "the job's shell is gone");
    const left = (await readdir(tmp)).filter((name) => name.startsWith('tessera-run-'));
    assert.deepEqual(left, [], 'the temporary directory is removed');
  });

  it('colours headers and statuses when FORCE_COLOR asks for them, without a progress line off a terminal', async () => {
    const dir = await repository({
      '.gitlab-ci.yml': 'ok:\n  script: [echo fine]\nbad:\n  allow_failure: true\n  script: [exit 1]\n',
    });
    const result = await tesseraRun([dir], undefined, { NO_COLOR: undefined, FORCE_COLOR: '1' });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.ok(result.stdout.includes('\u001b[36m== ok (stage test)\u001b[39m'), 'cyan header');
    assert.ok(result.stdout.includes('\u001b[32m== ok: passed in '), 'green status');
    assert.ok(
      result.stdout.includes('\u001b[33m== bad: failed (allowed, exit code 1) in '),
      'yellow allowed failure',
    );
    assert.ok(!result.stdout.includes('jobs done'), 'no progress line without a terminal');
  });
});
