// End to end: the GitLab dialect through a real `tessera serve` and a real `tessera runner`:
// parallel: N, parallel:matrix with needs:parallel:matrix, include:local with inputs into a file
// with a spec: header, and include:local wildcards over the commit's files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { commitFiles, git, makeRepository } from '../runner/git-repository.js';
import { TESSERA_BIN, useServeAndRunner } from './runner-harness.js';

// The shell executor, so that a job can leave a marker file for its retry to find.
const { root, coordinator } = useServeAndRunner('dialect', { runnerArgs: ['--executor', 'shell'] });

describe('runner end to end: GitLab dialect', () => {
  it('runs parallel and matrix jobs with their variables, and needs on a matrix', async () => {
    const dir = join(root, 'repos', 'parallel');
    makeRepository(dir, {
      '.gitlab-ci.yml': `
stages: [test, report]
include:
  - local: ci/greet.yml
    inputs:
      who: matrix fan
  - local: ci/jobs/**.yml
test:
  parallel: 2
  script: [echo "node $CI_NODE_INDEX of $CI_NODE_TOTAL"]
build:
  parallel:
    matrix:
      - ARCH: [amd64, arm64]
        NODE: 22
  script: [echo "arch=$ARCH node=$NODE index=$CI_NODE_INDEX/$CI_NODE_TOTAL"]
report:
  stage: report
  needs:
    - test
    - job: build
      parallel:
        matrix:
          - ARCH: arm64
            NODE: 22
  script: [echo report]
`,
      'ci/jobs/more/extra.yml': 'extra:\n  script: [echo extra from a wildcard]\n',
      'ci/greet.yml': `spec:
  inputs:
    who:
      description: whom to greet
    times:
      type: number
      default: 2
---
greet:
  stage: test
  script:
    - echo hello $[[ inputs.who | posix_escape ]] x$[[ inputs.times ]]
`,
    });
    const id = await coordinator.createProject('parallel', dir);
    const pipeline = await coordinator.createPipeline(id);
    const done = await coordinator.waitForPipeline(id, pipeline.id);
    const jobs = await coordinator.jobs(id, pipeline.id);
    assert.deepEqual(jobs.map((job) => job.name).sort(), [
      'build: [amd64, 22]',
      'build: [arm64, 22]',
      'extra',
      'greet',
      'report',
      'test 1/2',
      'test 2/2',
    ]);
    assert.equal(done.status, 'success', JSON.stringify(jobs));
    const log = async (name: string) =>
      coordinator.trace(id, (await coordinator.job(id, pipeline.id, name)).id);
    assert.match(await log('test 1/2'), /\nnode 1 of 2\n/);
    assert.match(await log('test 2/2'), /\nnode 2 of 2\n/);
    assert.match(await log('build: [arm64, 22]'), /\narch=arm64 node=22 index=2\/2\n/);
    assert.match(await log('build: [amd64, 22]'), /\narch=amd64 node=22 index=1\/2\n/);
    assert.match(await log('greet'), /\nhello matrix fan x2\n/);
  });

  it('decides rules:changes and include:rules:changes by the pipeline source, compare_to and rules:exists over real commits', async () => {
    const dir = join(root, 'repos', 'changes');
    const config = `
include:
  - local: ci/docs-extra.yml
    rules:
      - changes: [docs/**/*]
  - local: ci/src-extra.yml
    rules:
      - changes:
          paths: [src/**/*]
          compare_to: main
docs:
  rules:
    - changes: [docs/**/*]
  script: [echo docs]
src:
  rules:
    - changes: [src/**/*]
  script: [echo src]
src-vs-main:
  rules:
    - changes:
        paths: [src/**/*]
        compare_to: main
  script: [echo src changed since main]
docs-vs-main:
  rules:
    - changes:
        paths: [docs/**/*]
        compare_to: main
  script: [echo never]
has-src:
  rules:
    - exists: [src/*.ts]
  script: [echo exists]
has-gemfile:
  rules:
    - exists: [Gemfile]
  script: [echo never]
`;
    makeRepository(dir, {
      '.gitlab-ci.yml': config,
      'ci/docs-extra.yml': 'docs-extra:\n  script: [echo included for docs]\n',
      'ci/src-extra.yml': 'src-extra:\n  script: [echo included for src]\n',
      'docs/index.md': 'one\n',
      'src/app.ts': 'one\n',
    });
    git(dir, ['checkout', '--quiet', '-b', 'feature']);
    commitFiles(dir, { 'src/app.ts': 'two\n' }, 'change src');
    git(dir, ['checkout', '--quiet', 'main']);
    commitFiles(dir, { 'docs/index.md': 'two\n' }, 'change docs');
    const id = await coordinator.createProject('changes', dir);

    // An API pipeline has no push to compare with: plain changes are true (GitLab); compare_to
    // diffs. include:rules:changes decides the same way.
    const feature = await coordinator.createPipeline(id, 'feature');
    await coordinator.waitForPipeline(id, feature.id);
    const names = (await coordinator.jobs(id, feature.id)).map((job) => job.name).sort();
    assert.deepEqual(names, ['docs', 'docs-extra', 'has-src', 'src', 'src-extra', 'src-vs-main']);

    // A push (tessera run) compares with the commit's parent: only docs changed on main.
    const result = spawnSync(process.execPath, [TESSERA_BIN, 'run', '--executor', 'shell'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', TESSERA_LOG_LEVEL: 'warn' },
    });
    assert.equal(result.status, 0, result.stdout + result.stderr);
    const run = result.stdout;
    assert.match(run, /^== docs \(stage test\)$/m);
    assert.match(run, /^== docs-extra \(stage test\)$/m);
    assert.match(run, /^== has-src \(stage test\)$/m);
    assert.doesNotMatch(run, /^== (src|src-vs-main|src-extra|docs-vs-main|has-gemfile) /m);
  });

  it('reads coverage from the log into the job and the pipeline average', async () => {
    const dir = join(root, 'repos', 'coverage');
    makeRepository(dir, {
      '.gitlab-ci.yml': `
unit:
  coverage: '/Coverage: \\d+\\.\\d+%/'
  script:
    - 'echo "Coverage: 12.00% (an early line)"'
    - 'echo "Coverage: 81.50%"'
integration:
  coverage: '/lines (\\d+)%/'
  script: [echo "lines 70% of all"]
plain:
  script: ['echo "Coverage: 99.00%"']
`,
    });
    const id = await coordinator.createProject('coverage', dir);
    const pipeline = await coordinator.createPipeline(id);
    await coordinator.waitForPipeline(id, pipeline.id);
    const jobs = await coordinator.jobs(id, pipeline.id);
    const coverageOf = (name: string) =>
      (jobs.find((job) => job.name === name) as { coverage?: number | null } | undefined)?.coverage;
    assert.equal(coverageOf('unit'), 81.5);
    assert.equal(coverageOf('integration'), 70);
    assert.equal(coverageOf('plain'), null);
    const detail = await coordinator.ok<{ coverage: string | null }>(
      'GET',
      `/projects/${id}/pipelines/${pipeline.id}`,
    );
    assert.equal(detail.coverage, '75.75');
  });

  it('retries on retry:exit_codes only, and keeps global variables from a job with inherit:variables false', async () => {
    const dir = join(root, 'repos', 'retry');
    const marker = join(root, 'retry-exit-code-marker');
    makeRepository(dir, {
      '.gitlab-ci.yml': `
variables:
  GLOBAL: from-the-file
  MARKER: ${marker}
again:
  retry: { max: 1, exit_codes: [3] }
  script:
    - if [ -e "$MARKER" ]; then echo second; else touch "$MARKER"; exit 3; fi
once:
  retry: { max: 1, exit_codes: [3] }
  script: [exit 4]
isolated:
  inherit: { variables: false }
  script: ['echo "global=\${GLOBAL:-unset}"']
`,
    });
    const id = await coordinator.createProject('retry', dir);
    const pipeline = await coordinator.createPipeline(id);
    await coordinator.waitForPipeline(id, pipeline.id);
    const jobs = await coordinator.jobs(id, pipeline.id, true);
    const statuses = (name: string) =>
      jobs
        .filter((job) => job.name === name)
        .map((job) => job.status)
        .sort();
    const traces = await Promise.all(
      jobs.filter((job) => job.name === 'again').map((job) => coordinator.trace(id, job.id)),
    );
    assert.deepEqual(statuses('again'), ['failed', 'success'], traces.join('\n----\n'));
    assert.deepEqual(statuses('once'), ['failed']);
    const isolated = jobs.find((job) => job.name === 'isolated');
    assert.match(await coordinator.trace(id, isolated?.id ?? 0), /\nglobal=unset\n/);
  });

  it('answers the lint API as GitLab: POST with content, GET for the project file, dry_run and include_jobs', async () => {
    const dir = join(root, 'repos', 'lint');
    makeRepository(dir, {
      '.gitlab-ci.yml': `
include: ci/jobs.yml
build:
  script: [make]
tagged:
  rules:
    - if: $CI_COMMIT_TAG
  script: [echo tag]
`,
      'ci/jobs.yml': 'test:\n  parallel: 2\n  script: [make test]\n',
    });
    const id = await coordinator.createProject('lint', dir);
    type Lint = {
      valid: boolean;
      errors: string[];
      warnings: string[];
      merged_yaml: string | null;
      includes: { type: string; location: string; context_sha: string }[];
      jobs?: { name: string; stage: string; script: string[]; when: string }[];
    };

    const own = await coordinator.ok<Lint>('GET', `/projects/${id}/ci/lint?include_jobs=true`);
    assert.equal(own.valid, true, JSON.stringify(own));
    assert.deepEqual(own.errors, []);
    assert.deepEqual(
      own.includes.map((include) => [include.type, include.location]),
      [['local', 'ci/jobs.yml']],
    );
    assert.match(own.includes[0]?.context_sha ?? '', /^[0-9a-f]{40}$/);
    assert.match(own.merged_yaml ?? '', /^test:\n {2}parallel: 2\n/m);
    // Without dry_run every job of the file (included ones first, as merged); with it, the jobs a
    // push to main gets.
    assert.deepEqual(
      own.jobs?.map((job) => job.name),
      ['test 1/2', 'test 2/2', 'build', 'tagged'],
    );
    const dry = await coordinator.ok<Lint>('GET', `/projects/${id}/ci/lint?include_jobs=true&dry_run=true`);
    assert.deepEqual(
      dry.jobs?.map((job) => job.name),
      ['test 1/2', 'test 2/2', 'build'],
    );

    const posted = await coordinator.ok<Lint>('POST', `/projects/${id}/ci/lint`, {
      content: 'include: [ci/jobs.yml, ci/missing.yml]\nbuild:\n  script: [make]\n  when: sometimes\n',
    });
    assert.equal(posted.valid, false);
    assert.equal(posted.merged_yaml, null);
    assert.equal(posted.errors.length, 2, JSON.stringify(posted.errors));
    assert.match(posted.errors.join('\n'), /include\[1\]: local file "ci\/missing.yml" does not exist/);
    assert.match(posted.errors.join('\n'), /jobs\.build\.when: .*\(line 4\)/);

    const header = await coordinator.ok<Lint>('POST', `/projects/${id}/ci/lint`, {
      content:
        'spec:\n  inputs:\n    name:\n      default: x\n---\njob-$[[ inputs.name ]]:\n  script: [echo]\n',
      include_jobs: true,
    });
    assert.equal(header.valid, true, JSON.stringify(header));
    assert.deepEqual(
      header.jobs?.map((job) => job.name),
      ['job-x'],
    );

    // tessera ci lint --server --project: a local file whose include exists only in the project.
    const local = join(root, 'lint-local.yml');
    writeFileSync(local, 'include: ci/jobs.yml\nlocal-job:\n  script: [echo]\n');
    const cli = spawnSync(
      process.execPath,
      [TESSERA_BIN, 'ci', 'lint', local, '--server', coordinator.url, '--project', String(id), '--json'],
      { encoding: 'utf8', env: { ...process.env, TESSERA_TOKEN: coordinator.adminToken } },
    );
    assert.equal(cli.status, 0, cli.stdout + cli.stderr);
    const answer = JSON.parse(cli.stdout) as Lint;
    assert.deepEqual(
      answer.jobs?.map((job) => job.name),
      ['test 1/2', 'test 2/2', 'local-job'],
    );
  });

  it('auto-cancels an older pipeline of the branch (interruptible jobs), and on_job_failure: all', async () => {
    const dir = join(root, 'repos', 'auto-cancel');
    makeRepository(dir, {
      '.gitlab-ci.yml': `
workflow:
  auto_cancel:
    on_job_failure: all
slow:
  interruptible: true
  script: ['if [ -f STOP ]; then echo quick; else sleep 120; fi']
`,
    });
    const id = await coordinator.createProject('auto-cancel', dir);
    const first = await coordinator.createPipeline(id);
    await coordinator.waitForJob(id, first.id, 'slow', ['running']);
    commitFiles(dir, { STOP: 'now\n' }, 'a newer commit');
    const second = await coordinator.createPipeline(id);
    assert.equal((await coordinator.waitForPipeline(id, first.id)).status, 'canceled');
    assert.equal((await coordinator.job(id, first.id, 'slow')).status, 'canceled');
    assert.equal((await coordinator.waitForPipeline(id, second.id)).status, 'success');

    commitFiles(
      dir,
      {
        '.gitlab-ci.yml': `
workflow:
  auto_cancel:
    on_job_failure: all
broken:
  script: ['sleep 1; exit 1']
slow:
  script: [sleep 120]
`,
      },
      'a failing job cancels the rest',
    );
    const failing = await coordinator.createPipeline(id);
    await coordinator.waitForPipeline(id, failing.id, ['failed', 'canceled']);
    assert.equal((await coordinator.job(id, failing.id, 'broken')).status, 'failed');
    assert.equal((await coordinator.job(id, failing.id, 'slow')).status, 'canceled');
  });

  it('holds a when: delayed job as scheduled until its start_in, then runs it', async () => {
    const dir = join(root, 'repos', 'delayed');
    makeRepository(dir, {
      '.gitlab-ci.yml': `
now:
  script: [echo now]
later:
  when: delayed
  start_in: 2 seconds
  script: [echo later]
by-rule:
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      when: delayed
      start_in: 1 second
  script: [echo by rule]
`,
    });
    const id = await coordinator.createProject('delayed', dir);
    const pipeline = await coordinator.createPipeline(id);
    assert.equal((await coordinator.job(id, pipeline.id, 'later')).status, 'scheduled');
    assert.equal((await coordinator.job(id, pipeline.id, 'by-rule')).status, 'scheduled');
    assert.equal((await coordinator.waitForPipeline(id, pipeline.id)).status, 'success');
    const later = await coordinator.job(id, pipeline.id, 'later');
    assert.match(await coordinator.trace(id, later.id), /\nlater\n/);
  });

  it("runs one job of a resource_group at a time across pipelines, in the group's process mode", async () => {
    const dir = join(root, 'repos', 'resource-group');
    const log = join(root, 'resource-group.log');
    const gate = join(root, 'resource-group.gate');
    makeRepository(dir, {
      '.gitlab-ci.yml': `
deploy:
  resource_group: production
  script:
    - echo "start $CI_PIPELINE_ID" >> ${log}
    - while [ ! -f ${gate} ]; do sleep 0.2; done
    - echo "end $CI_PIPELINE_ID" >> ${log}
`,
    });
    const id = await coordinator.createProject('resource-group', dir);
    const first = await coordinator.createPipeline(id);
    await coordinator.waitForJob(id, first.id, 'deploy', ['running']);
    const second = await coordinator.createPipeline(id);
    const third = await coordinator.createPipeline(id);
    const groups = await coordinator.ok<{ key: string; process_mode: string }[]>(
      'GET',
      `/projects/${id}/resource_groups`,
    );
    assert.deepEqual(
      groups.map((group) => [group.key, group.process_mode]),
      [['production', 'unordered']],
    );
    const updated = await coordinator.ok<{ process_mode: string }>(
      'PUT',
      `/projects/${id}/resource_groups/production`,
      { process_mode: 'newest_first' },
    );
    assert.equal(updated.process_mode, 'newest_first');
    // The runner has a free slot, yet the group holds the other two back.
    assert.equal((await coordinator.job(id, second.id, 'deploy')).status, 'pending');
    writeFileSync(gate, '');
    for (const pipeline of [first, second, third]) await coordinator.waitForPipeline(id, pipeline.id);
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), [
      `start ${first.id}`,
      `end ${first.id}`,
      `start ${third.id}`,
      `end ${third.id}`,
      `start ${second.id}`,
      `end ${second.id}`,
    ]);
  });

  it('records the release of a successful release: job, with its variables expanded', async () => {
    const dir = join(root, 'repos', 'release');
    makeRepository(dir, {
      '.gitlab-ci.yml': `
variables:
  VERSION: "1.2.3"
release-job:
  script: [echo releasing]
  release:
    tag_name: v$VERSION
    name: Release $VERSION of $CI_PROJECT_PATH
    description: Built from $CI_COMMIT_SHA
    assets:
      links:
        - name: tarball
          url: https://example.com/v$VERSION.tar.gz
          link_type: package
`,
    });
    const id = await coordinator.createProject('release', dir);
    const pipeline = await coordinator.createPipeline(id);
    assert.equal((await coordinator.waitForPipeline(id, pipeline.id)).status, 'success');
    const job = await coordinator.job(id, pipeline.id, 'release-job');
    assert.match(await coordinator.trace(id, job.id), /release: recorded release v1\.2\.3/);
    const releases = await coordinator.ok<
      {
        tag_name: string;
        name: string;
        description: string;
        commit: { id: string };
        assets: { links: { url: string }[] };
      }[]
    >('GET', `/projects/${id}/releases`);
    assert.equal(releases.length, 1);
    assert.equal(releases[0]?.tag_name, 'v1.2.3');
    assert.match(releases[0]?.name ?? '', /^Release 1\.2\.3 of \S+release$/);
    assert.equal(releases[0]?.description, `Built from ${releases[0]?.commit.id}`);
    assert.equal(releases[0]?.assets.links[0]?.url, 'https://example.com/v1.2.3.tar.gz');
    const one = await coordinator.ok<{ tag_name: string }>('GET', `/projects/${id}/releases/v1.2.3`);
    assert.equal(one.tag_name, 'v1.2.3');
  });
});
