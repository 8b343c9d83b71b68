import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));

function tessera(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

const CONFIG = `include:
  - local: ci/templates.yml
workflow:
  rules:
    - if: $CI_COMMIT_MESSAGE =~ /\\[skip pipeline\\]/
      when: never
    - when: always
build:
  extends: .build
  stage: build
test:
  script: make test
  needs: [build]
deploy:
  stage: deploy
  script: ./deploy.sh
  id_tokens:
    VAULT: { aud: https://vault.example.com }
  rules:
    - if: $CI_COMMIT_TAG
      when: manual
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
    - if: $FORCE_DEPLOY == "1"
`;

describe('tessera ci lint', () => {
  let repo: string;

  before(async () => {
    repo = await mkdtemp(join(tmpdir(), 'tessera-ci-lint-'));
    await mkdir(join(repo, 'ci'));
    await writeFile(join(repo, '.gitlab-ci.yml'), CONFIG);
    await writeFile(join(repo, 'ci', 'templates.yml'), '.build:\n  script: [make]\n');
    await writeFile(
      join(repo, 'broken.yml'),
      'stages: [build]\nbuild:\n  stage: biuld\n  script: make\ndeploy:\n  stage: build\n  script: x\n  id_tokens:\n    VAULT:\n      ttl: 60\n',
    );
    execFileSync('git', ['init', '-q', '-b', 'trunk', repo]);
    execFileSync('git', [
      '-C',
      repo,
      '-c',
      'user.name=t',
      '-c',
      'user.email=t@t.invalid',
      'commit',
      '-q',
      '--allow-empty',
      '-m',
      'init',
    ]);
  });

  after(async () => {
    await rm(repo, { recursive: true, force: true });
  });

  it('lists the jobs for the current branch of the repository and exits 0', async () => {
    const { code, stdout } = await tessera(['ci', 'lint'], repo);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /^\.gitlab-ci\.yml is valid$/m);
    assert.match(stdout, /Pipeline for branch trunk \(source push\): 2 jobs/);
    assert.match(stdout, /build\s+build\s+on_success/);
    assert.match(stdout, /test\s+test\s+on_success\s+needs: build/);
    assert.doesNotMatch(stdout, /deploy/);
  });

  it('prints JSON for a tag, with jobs in stage order', async () => {
    const { code, stdout } = await tessera(
      ['ci', 'lint', '--dir', repo, '--ref', 'v1.0.0', '--tag', '--json'],
      repo,
    );
    assert.equal(code, 0);
    const report = JSON.parse(stdout);
    assert.equal(report.valid, true);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.jobs, [
      { name: 'build', stage: 'build', when: 'on_success', allow_failure: false, needs: null },
      { name: 'test', stage: 'test', when: 'on_success', allow_failure: false, needs: ['build'] },
      { name: 'deploy', stage: 'deploy', when: 'manual', allow_failure: false, needs: null },
    ]);
  });

  it('passes --var and --source to the rules', async () => {
    const forced = await tessera(
      ['ci', 'lint', '.gitlab-ci.yml', '--ref', 'dev', '--var', 'FORCE_DEPLOY=1', '--json'],
      repo,
    );
    assert.deepEqual(
      JSON.parse(forced.stdout).jobs.map((job: { name: string }) => job.name),
      ['build', 'test', 'deploy'],
    );
    const skipped = await tessera(['ci', 'lint', '--var', 'CI_COMMIT_MESSAGE=wip [skip pipeline]'], repo);
    assert.equal(skipped.code, 0);
    assert.match(skipped.stdout, /No pipeline for branch trunk \(source push\): workflow:rules leave it out/);
    const mr = await tessera(['ci', 'lint', '--source', 'merge_request_event', '--json'], repo);
    assert.deepEqual(JSON.parse(mr.stdout).jobs, []);
  });

  it('reports every error as path: message (line N) and exits 1', async () => {
    const { code, stdout } = await tessera(['ci', 'lint', 'broken.yml'], repo);
    assert.equal(code, 1);
    assert.match(stdout, /^jobs\.build\.stage: stage "biuld" is not declared; .* \(line 3\)$/m);
    assert.match(stdout, /^jobs\.deploy\.id_tokens\.VAULT\.aud: is required.* \(line 9\)$/m);
    assert.match(stdout, /broken\.yml is invalid: 2 errors/);
    const json = await tessera(['ci', 'lint', 'broken.yml', '--json'], repo);
    assert.equal(json.code, 1);
    const report = JSON.parse(json.stdout);
    assert.equal(report.valid, false);
    assert.deepEqual(
      report.errors.map((error: { path: string; line: number }) => [error.path, error.line]),
      [
        ['jobs.build.stage', 3],
        ['jobs.deploy.id_tokens.VAULT.aud', 9],
      ],
    );
    assert.deepEqual(report.jobs, []);
  });

  it('fetches include:remote with the settings tessera serve reads, and refuses what they refuse', async () => {
    const served: string[] = [];
    const server = createServer((request, response) => {
      served.push(request.url ?? '');
      response.end('remote-job:\n  script: [make lint]\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const dir = await mkdtemp(join(tmpdir(), 'tessera-ci-lint-remote-'));
    try {
      await writeFile(
        join(dir, '.gitlab-ci.yml'),
        `include:\n  - remote: http://127.0.0.1:${port}/ci/shared.yml\n`,
      );
      const allowed = {
        ...process.env,
        TESSERA_INCLUDE_REMOTE_HOSTS: '127.0.0.1',
        TESSERA_INCLUDE_REMOTE_ALLOW_HTTP: 'true',
      };
      const fetched = await tessera(['ci', 'lint', '--dir', dir, '--json'], dir, allowed);
      assert.equal(fetched.code, 0, fetched.stdout + fetched.stderr);
      assert.deepEqual(
        JSON.parse(fetched.stdout).jobs.map((job: { name: string }) => job.name),
        ['remote-job'],
      );
      assert.deepEqual(served, ['/ci/shared.yml']);

      // The default: no host is allowed, and the error names the setting.
      const { TESSERA_INCLUDE_REMOTE_HOSTS: _, ...unset } = allowed;
      const refused = await tessera(['ci', 'lint', '--dir', dir], dir, unset);
      assert.equal(refused.code, 1);
      assert.match(refused.stdout, /TESSERA_INCLUDE_REMOTE_HOSTS/);
      assert.equal(served.length, 1, 'nothing was fetched');
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says at each rules:exists:project entry that a working copy reads no other project', async () => {
    await writeFile(
      join(repo, 'exists-project.yml'),
      `build:
  script: [make]
  rules:
    - exists: { paths: [Dockerfile], project: acme/templates }
test:
  script: [make test]
  rules:
    - exists:
        paths: [Dockerfile]
        project: acme/templates
        ref: v1.0.0
`,
    );
    await writeFile(
      join(repo, 'exists-include.yml'),
      `include:
  - local: ci/templates.yml
    rules:
      - exists: { paths: [Dockerfile], project: acme/templates }
build:
  extends: .build
`,
    );
    const jobs = await tessera(['ci', 'lint', 'exists-project.yml', '--json'], repo);
    assert.equal(jobs.code, 1);
    const report = JSON.parse(jobs.stdout) as { errors: { path: string; message: string; line: number }[] };
    assert.deepEqual(
      report.errors.map((error) => [error.path, error.line]),
      [
        ['jobs.build.rules[0].exists.project', 4],
        ['jobs.test.rules[0].exists.project', 10],
      ],
    );
    for (const error of report.errors)
      assert.match(
        error.message,
        /project "acme\/templates": tessera ci lint of a working copy reads no other project; lint with a server \(tessera ci lint --server URL --project PATH\)/,
      );
    const included = await tessera(['ci', 'lint', 'exists-include.yml'], repo);
    assert.equal(included.code, 1);
    assert.match(
      included.stdout,
      /^include\[0\]\.rules\[0\]\.exists\.project: cannot look in project "acme\/templates": rules:exists:project reads projects of a Tessera server \(tessera ci lint --server URL --project PATH\) \(line 4\)$/m,
    );
  });

  it('exits 1 for a missing file and 2 for usage errors', async () => {
    assert.equal((await tessera(['ci', 'lint', 'nope.yml'], repo)).code, 1);
    assert.equal((await tessera(['ci', 'lint', '--var', 'novalue'], repo)).code, 2);
    assert.equal((await tessera(['ci', 'lint', '--source', 'carrier-pigeon'], repo)).code, 2);
    assert.equal((await tessera(['ci', 'lint', '--frobnicate'], repo)).code, 2);
  });
});
