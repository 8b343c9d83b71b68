// End to end: real `tessera serve` processes and a real `tessera runner` pass artifacts, dotenv
// variables and caches between jobs and pipelines, and refuse what must be refused (an escaping
// link, an upload over the limit, a corrupt archive, expired artifacts, another project's job
// token). Twice: SQLite with the filesystem store; PostgreSQL with two coordinator nodes sharing
// an S3-compatible store (s3rver), the runner on one node and the API on the other.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import S3rver from 's3rver';
import type { ArtifactStore } from '../../src/artifacts/artifact-store.js';
import { createArtifactStore } from '../../src/artifacts/create-artifact-store.js';
import { loadConfig } from '../../src/config/load.js';
import { git, makeRepository } from '../runner/git-repository.js';
import { findPythonGitlab, runPython } from '../server/python-gitlab.js';
import { type Child, Coordinator, startRunner, startTessera, waitFor } from './runner-harness.js';

const PYTHON_ARTIFACTS = fileURLToPath(new URL('../fixtures/python-gitlab-artifacts.py', import.meta.url));
const pythonGitlab = findPythonGitlab();

const PG_URL = process.env.TESSERA_TEST_DATABASE_URL ?? '';

async function admin(sql: string, database?: string): Promise<Record<string, unknown>[]> {
  const url = new URL(PG_URL);
  if (database) url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.href });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

const S3_ENV_FOR_CACHE = {
  TESSERA_CACHE_S3_ACCESS_KEY_ID: 'S3RVER',
  TESSERA_CACHE_S3_SECRET_ACCESS_KEY: 'S3RVER',
};
const S3_ENV = {
  TESSERA_ARTIFACTS_S3_ACCESS_KEY_ID: 'S3RVER',
  TESSERA_ARTIFACTS_S3_SECRET_ACCESS_KEY: 'S3RVER',
};

for (const dialect of ['sqlite', 'postgres'] as const) {
  const skip =
    dialect === 'postgres' && PG_URL === ''
      ? 'TESSERA_TEST_DATABASE_URL is not set; PostgreSQL tests skipped'
      : false;
  const database = `tessera_art_${randomBytes(6).toString('hex')}`;
  const root = mkdtempSync(join(tmpdir(), 'tessera-e2e-artifacts-'));
  const coordinator = new Coordinator(join(root, 'data'));
  // PostgreSQL: a second node, where the runner works; the API is asked on the first.
  const runnerNode = dialect === 'postgres' ? new Coordinator(join(root, 'data-b')) : coordinator;
  const s3 = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: join(root, 's3'),
    configureBuckets: [{ name: 'ci-artifacts' }],
  });
  let s3Store: ArtifactStore | undefined;
  let s3Endpoint = '';
  let runner: Child;

  /** The store key of a job's file, read from the database. */
  async function storeKey(jobId: number, type = 'archive'): Promise<string> {
    if (dialect === 'postgres') {
      const rows = await admin(
        `SELECT store_key FROM job_artifacts WHERE job_id = ${Number(jobId)} AND file_type = '${type}'`,
        database,
      );
      return String(rows[0]?.store_key ?? '');
    }
    const db = new Database(join(coordinator.dataDir, 'tessera.db'), { readonly: true });
    try {
      const row = db
        .prepare('SELECT store_key FROM job_artifacts WHERE job_id = ? AND file_type = ?')
        .get(jobId, type) as { store_key: string } | undefined;
      return row?.store_key ?? '';
    } finally {
      db.close();
    }
  }

  async function storedBytes(key: string): Promise<boolean> {
    if (s3Store) return key !== '' && (await s3Store.get(key)) !== undefined;
    return key !== '' && existsSync(join(coordinator.dataDir, 'artifacts', key));
  }

  async function overwrite(key: string, text: string): Promise<void> {
    if (s3Store) await s3Store.put(key, Readable.from([Buffer.from(text)]), 1024);
    else writeFileSync(join(coordinator.dataDir, 'artifacts', key), text);
  }

  /** Upload leftovers: the filesystem store's `tmp/`, or the S3 store's spool directories. */
  function leftovers(): string[] {
    const dirs =
      dialect === 'postgres'
        ? [join(coordinator.dataDir, 'artifacts-spool'), join(runnerNode.dataDir, 'artifacts-spool')]
        : [join(coordinator.dataDir, 'artifacts', 'tmp')];
    return dirs.flatMap((dir) => (existsSync(dir) ? readdirSync(dir) : []));
  }

  async function project(name: string, files: Record<string, string>): Promise<{ id: number; dir: string }> {
    const dir = join(root, 'repos', name);
    makeRepository(dir, files);
    return { id: await coordinator.createProject(name, dir), dir };
  }

  async function runPipeline(id: number, ref = 'main') {
    const pipeline = await coordinator.createPipeline(id, ref);
    await coordinator.waitForPipeline(id, pipeline.id, ['success', 'failed', 'canceled', 'manual']);
    const jobs = await coordinator.jobs(id, pipeline.id);
    const traces = new Map<string, string>();
    for (const job of jobs) traces.set(job.name, await coordinator.trace(id, job.id));
    return { pipeline, jobs, traces, job: (name: string) => jobs.find((job) => job.name === name)! };
  }

  before(async () => {
    if (skip) return;
    if (dialect === 'postgres') {
      await admin(`CREATE DATABASE ${database}`);
      const url = new URL(PG_URL);
      url.pathname = `/${database}`;
      const { port } = await s3.run();
      const endpoint = `http://127.0.0.1:${port}`;
      s3Endpoint = endpoint;
      const env = {
        ...S3_ENV,
        TESSERA_ARTIFACTS_S3_ENDPOINT: endpoint,
        TESSERA_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      };
      const args = ['--database', url.href, '--artifacts-store', 's3://ci-artifacts/e2e'];
      await coordinator.start(args, env);
      await runnerNode.start(args, env);
      s3Store = createArtifactStore(
        loadConfig(
          {
            dataDir: join(root, 'probe'),
            artifactsStore: 's3://ci-artifacts/e2e',
            artifactsS3Endpoint: endpoint,
          },
          {},
        ),
        S3_ENV,
      );
    } else {
      await coordinator.start();
    }
    runner = startRunner(runnerNode, await coordinator.registerRunner(), join(root, 'builds'), 2, [
      '--executor',
      'shell',
    ]);
  });

  after(async () => {
    await runner?.stop();
    await coordinator.stop();
    if (dialect === 'postgres' && !skip) {
      await runnerNode.stop();
      await s3.close().catch(() => undefined);
      await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    }
    rmSync(root, { recursive: true, force: true });
  });

  describe(`artifacts end to end (${dialect === 'postgres' ? 'PostgreSQL, two nodes, S3 store' : 'SQLite, filesystem store'})`, {
    skip,
  }, () => {
    it('hands a build job’s artifacts and dotenv variables to later jobs, as dependencies and needs say', async () => {
      const { id } = await project('flow', {
        '.gitlab-ci.yml': `
stages: [build, test, deploy]
build:
  stage: build
  script:
    - mkdir -p dist/sub
    - echo built > dist/app.txt
    - echo nested > dist/sub/deep.txt
    - echo map > dist/app.js.map
    - ln -s /etc/hostname dist/escape
    - ln -s app.txt dist/alias
    - echo BUILD_VERSION=1.2.3 > build.env
    - echo '<testsuite><testcase classname="a" name="ok" time="1"/><testcase classname="a" name="bad"><failure message="no"/></testcase></testsuite>' > report.xml
  artifacts:
    paths: [dist/, ../outside]
    exclude: ["dist/**/*.map"]
    reports:
      dotenv: build.env
      junit: report.xml
test:
  stage: test
  script:
    - cat dist/app.txt dist/sub/deep.txt
    - cat dist/alias
    - test ! -e dist/escape && echo no-escape
    - test ! -e dist/app.js.map && echo no-map
    - echo "version=$BUILD_VERSION"
none:
  stage: test
  dependencies: []
  script:
    - test ! -e dist && echo "none-got-nothing version=[$BUILD_VERSION]"
needs-without:
  stage: test
  needs: [{job: build, artifacts: false}]
  script:
    - test ! -e dist && echo needs-got-nothing
deploy:
  stage: deploy
  script:
    - echo "deploy version=$BUILD_VERSION"
    - cat dist/app.txt
`,
      });
      const run = await runPipeline(id);
      const build = run.traces.get('build')!;
      assert.equal(run.pipeline && run.job('build').status, 'success', build);
      assert.match(build, /Uploading artifacts for successful job/);
      assert.match(build, /dist\/: found \d+ matching artifact files and directories/);
      assert.match(
        build,
        /WARNING: dist\/escape: symbolic link to \/etc\/hostname leaves the build directory; not archived/,
      );
      assert.match(build, /WARNING: \.\.\/outside: not in the build directory/);
      assert.match(build, /Uploading artifacts as "archive" to coordinator\.\.\. 201 Created/);
      assert.match(build, /Uploading artifacts as "dotenv" to coordinator\.\.\. 201 Created/);
      const test = run.traces.get('test')!;
      assert.equal(run.job('test').status, 'success', test);
      assert.match(test, new RegExp(`Downloading artifacts for build \\(${run.job('build').id}\\)\\.\\.\\.`));
      assert.match(test, /Downloading artifacts from coordinator\.\.\. ok/);
      assert.match(test, /^built$/m);
      assert.match(test, /^nested$/m);
      assert.match(test, /^no-escape$/m);
      assert.match(test, /^no-map$/m);
      assert.match(test, /^version=1\.2\.3$/m);
      assert.equal(run.job('none').status, 'success', run.traces.get('none'));
      assert.match(run.traces.get('none')!, /^none-got-nothing version=\[\]$/m);
      assert.equal(run.job('needs-without').status, 'success', run.traces.get('needs-without'));
      assert.match(run.traces.get('needs-without')!, /^needs-got-nothing$/m);
      assert.equal(run.job('deploy').status, 'success', run.traces.get('deploy'));
      assert.match(run.traces.get('deploy')!, /^deploy version=1\.2\.3$/m);

      // The API, with GitLab's paths and shapes.
      const buildId = run.job('build').id;
      const get = (path: string) =>
        fetch(`${coordinator.url}/api/v4/projects/${id}${path}`, {
          headers: { 'private-token': coordinator.adminToken },
        });
      const job = await coordinator.ok<Record<string, unknown>>('GET', `/projects/${id}/jobs/${buildId}`);
      assert.deepEqual(Object.keys(job.artifacts_file as object), ['filename', 'size']);
      assert.deepEqual((job.artifacts as { file_type: string }[]).map((file) => file.file_type).sort(), [
        'archive',
        'dotenv',
        'junit',
      ]);
      assert.match(String(job.artifacts_expire_at), /^\d{4}-\d\d-\d\dT/);
      const summary = await coordinator.ok<{
        total: Record<string, unknown>;
        test_suites: { name: string }[];
      }>('GET', `/projects/${id}/pipelines/${run.pipeline.id}/test_report_summary`);
      assert.deepEqual(
        [summary.total.count, summary.total.success, summary.total.failed, summary.test_suites[0]?.name],
        [2, 1, 1, 'build'],
      );
      const report = await coordinator.ok<{
        test_suites: { test_cases: { name: string; status: string }[] }[];
      }>('GET', `/projects/${id}/pipelines/${run.pipeline.id}/test_report`);
      assert.deepEqual(
        report.test_suites[0]?.test_cases.map((testCase) => `${testCase.name}:${testCase.status}`),
        ['ok:success', 'bad:failed'],
      );
      const archive = await get(`/jobs/${buildId}/artifacts`);
      assert.equal(archive.status, 200);
      assert.equal(archive.headers.get('content-type'), 'application/zip');
      assert.equal(Buffer.from(await archive.arrayBuffer()).readUInt32LE(0), 0x04034b50);
      assert.equal(await (await get(`/jobs/${buildId}/artifacts/dist/sub/deep.txt`)).text(), 'nested\n');
      assert.equal((await get(`/jobs/${buildId}/artifacts/dist/missing.txt`)).status, 404);
      assert.equal((await get('/jobs/artifacts/main/download?job=build')).status, 200);
      assert.equal(await (await get('/jobs/artifacts/main/raw/dist/app.txt?job=build')).text(), 'built\n');
      // A real GitLab client reads them too (python-gitlab, where Debian's package is installed).
      if ('python' in pythonGitlab) {
        const read = await runPython(pythonGitlab.python, PYTHON_ARTIFACTS, {
          TESSERA_URL: coordinator.url,
          TESSERA_TOKEN: coordinator.adminToken,
          TESSERA_PROJECT_ID: String(id),
          TESSERA_JOB_ID: String(buildId),
        });
        assert.equal(read.code, 0, `python-gitlab failed:\n${read.stderr}`);
      }
      assert.equal((await get('/jobs/artifacts/nope/download?job=build')).status, 404);
      const kept = await coordinator.ok<Record<string, unknown>>(
        'POST',
        `/projects/${id}/jobs/${buildId}/artifacts/keep`,
      );
      assert.equal(kept.artifacts_expire_at, null);
      assert.equal(
        (await coordinator.api('DELETE', `/projects/${id}/jobs/${buildId}/artifacts`)).status,
        204,
      );
      assert.equal((await get(`/jobs/${buildId}/artifacts`)).status, 404);
      const afterDelete = await coordinator.ok<Record<string, unknown>>(
        'GET',
        `/projects/${id}/jobs/${buildId}`,
      );
      assert.equal(afterDelete.artifacts_file, undefined);
    });

    it("erases a finished job's log and artifacts together, as GitLab's erase does", async () => {
      const { id } = await project('erased', {
        '.gitlab-ci.yml': `
build:
  script:
    - echo "erase me" > out.txt
  artifacts:
    paths: [out.txt]
`,
      });
      const run = await runPipeline(id);
      const buildId = run.job('build').id;
      const archive = `/projects/${id}/jobs/${buildId}/artifacts`;
      assert.equal((await coordinator.api('GET', archive)).status, 200);
      assert.equal((await coordinator.api('POST', `/projects/${id}/jobs/${buildId}/erase`)).status, 201);
      assert.equal((await coordinator.api('GET', archive)).status, 404);
      assert.equal(await coordinator.trace(id, buildId), '');
    });

    it("deletes the artifacts' bytes with their pipeline and with their project", async () => {
      const { id } = await project('doomed', {
        '.gitlab-ci.yml': `
build:
  script:
    - echo "doomed" > out.txt
  artifacts:
    paths: [out.txt]
`,
      });
      const first = await runPipeline(id);
      const second = await runPipeline(id);
      const firstKey = await storeKey(first.job('build').id);
      const secondKey = await storeKey(second.job('build').id);
      assert.ok((await storedBytes(firstKey)) && (await storedBytes(secondKey)));
      assert.equal(
        (await coordinator.api('DELETE', `/projects/${id}/pipelines/${first.pipeline.id}`)).status,
        204,
      );
      assert.equal(await storedBytes(firstKey), false, 'the pipeline took its artifacts along');
      assert.equal(await storedBytes(secondKey), true);
      assert.equal((await coordinator.api('DELETE', `/projects/${id}`)).status, 202);
      assert.equal(await storedBytes(secondKey), false, 'the project took its artifacts along');
    });

    it('restores a cache saved by an earlier pipeline, and keeps protected and unprotected caches apart', async () => {
      const { id, dir } = await project('cached', {
        '.gitlab-ci.yml': `
stages: [build, test]
job:
  stage: build
  cache:
    key: deps
    paths: [.deps/]
  script:
    - if [ -f .deps/from ]; then echo "restored from $(cat .deps/from)"; else echo "cold cache"; fi
    - mkdir -p .deps && echo "$CI_COMMIT_REF_NAME-$CI_PIPELINE_ID" > .deps/from
fallback:
  stage: test
  cache: {key: other, fallback_keys: [deps], paths: [.deps/], policy: pull}
  script: [cat .deps/from]
by-files:
  stage: test
  cache: {key: {files: [.gitlab-ci.yml], prefix: cfg}, paths: [x/]}
  script: [mkdir -p x, touch x/y]
`,
      });
      git(dir, ['branch', 'feature']);
      await coordinator.ok('POST', `/projects/${id}/protected_branches`, { name: 'main' });
      const first = await runPipeline(id);
      assert.equal(first.job('job').status, 'success', first.traces.get('job'));
      assert.match(first.traces.get('job')!, /Checking cache for deps-protected\.\.\./);
      assert.match(first.traces.get('job')!, /^cold cache$/m);
      assert.match(first.traces.get('job')!, /Creating cache deps-protected\.\.\./);
      assert.match(first.traces.get('job')!, /Created cache/);
      const fallback = first.traces.get('fallback')!;
      assert.match(
        fallback,
        /Checking cache for other-protected\.\.\.\nWARNING: file does not exist\nChecking cache for deps-protected\.\.\./,
      );
      assert.match(fallback, new RegExp(`^main-${first.pipeline.id}$`, 'm'));
      assert.doesNotMatch(fallback, /Creating cache/, 'policy: pull saves nothing');
      assert.match(first.traces.get('by-files')!, /Creating cache cfg-[0-9a-f]{40}-protected\.\.\./);
      const second = await runPipeline(id);
      assert.match(second.traces.get('job')!, /Successfully extracted cache/);
      assert.match(second.traces.get('job')!, new RegExp(`^restored from main-${first.pipeline.id}$`, 'm'));
      // The unprotected branch sees neither, and what it saves does not reach main.
      const feature = await runPipeline(id, 'feature');
      assert.match(feature.traces.get('job')!, /Checking cache for deps-non_protected\.\.\./);
      assert.match(feature.traces.get('job')!, /^cold cache$/m);
      const third = await runPipeline(id);
      assert.match(third.traces.get('job')!, new RegExp(`^restored from main-${second.pipeline.id}$`, 'm'));
    });

    it('refuses an upload over max_artifacts_size with 413, keeping nothing, and fails the job', async () => {
      const { id } = await project('big', {
        '.gitlab-ci.yml': `
big:
  script:
    - head -c 3000000 /dev/urandom > blob.bin
  artifacts:
    paths: [blob.bin]
`,
      });
      await coordinator.ok('PUT', `/projects/${id}`, { max_artifacts_size: 1 });
      const run = await runPipeline(id);
      const trace = run.traces.get('big')!;
      assert.equal(run.job('big').status, 'failed', trace);
      assert.match(trace, /ERROR: Uploading artifacts as "archive" to coordinator\.\.\. too large archive/);
      assert.match(trace, /413/);
      assert.equal(await storeKey(run.job('big').id), '', 'no artifact recorded');
      assert.deepEqual(leftovers(), []);
    });

    it('fails a job whose dependency’s archive is corrupt, and one whose dependency’s artifacts expired', async () => {
      const { id } = await project('broken', {
        '.gitlab-ci.yml': `
stages: [build, test]
build:
  stage: build
  script: [echo data > out.txt]
  artifacts: {paths: [out.txt]}
short:
  stage: build
  script: [echo data > short.txt]
  artifacts: {paths: [short.txt], expire_in: 3 seconds}
use-corrupt:
  stage: test
  when: manual
  dependencies: [build]
  script: [cat out.txt]
use-expired:
  stage: test
  when: manual
  dependencies: [short]
  script: [cat short.txt]
`,
      });
      const run = await runPipeline(id);
      const buildId = run.job('build').id;
      const buildKey = await storeKey(buildId);
      // Read now: once expired, the sweeper (every 5 s) empties the key.
      const shortKey = await storeKey(run.job('short').id);
      assert.notEqual(shortKey, '');
      await overwrite(buildKey, 'this is not a zip archive at all');
      await coordinator.ok('POST', `/projects/${id}/jobs/${run.job('use-corrupt').id}/play`);
      await new Promise((resolve) => setTimeout(resolve, 3500));
      await coordinator.ok('POST', `/projects/${id}/jobs/${run.job('use-expired').id}/play`);
      const corrupt = await coordinator.waitForJob(id, run.pipeline.id, 'use-corrupt', ['success', 'failed']);
      const expired = await coordinator.waitForJob(id, run.pipeline.id, 'use-expired', ['success', 'failed']);
      const corruptTrace = await coordinator.trace(id, corrupt.id);
      assert.equal(corrupt.status, 'failed', corruptTrace);
      assert.match(
        corruptTrace,
        /ERROR: Extracting artifacts of build \(\d+\): the artifacts archive is not a valid zip/,
      );
      assert.equal(expired.status, 'failed');
      assert.equal(expired.failure_reason, 'missing_dependency_failure');
      // The sweeper (every 5 s) removes the expired bytes; the build's stay.
      await waitFor(async () => ((await storedBytes(shortKey)) ? undefined : true), 'the sweeper', 20_000);
      assert.equal(await storedBytes(buildKey), true);
    });

    it('answers 404 to a job token of another project', async () => {
      const other = await project('other', {
        '.gitlab-ci.yml': `
build:
  script: [echo secret > s.txt]
  artifacts: {paths: [s.txt]}
`,
      });
      const otherRun = await runPipeline(other.id);
      const { id } = await project('prober', {
        '.gitlab-ci.yml': `
probe:
  script:
    - >
      node -e "fetch(process.env.CI_API_V4_URL + '/jobs/' + process.env.TARGET + '/artifacts', {headers: {'JOB-TOKEN': process.env.CI_JOB_TOKEN}}).then((r) => console.log('status=' + r.status))"
`,
      });
      const pipeline = await coordinator.ok<{ id: number }>('POST', `/projects/${id}/pipeline`, {
        ref: 'main',
        variables: [{ key: 'TARGET', value: String(otherRun.job('build').id) }],
      });
      await coordinator.waitForPipeline(id, pipeline.id);
      const probe = await coordinator.job(id, pipeline.id, 'probe');
      const trace = await coordinator.trace(id, probe.id);
      assert.match(trace, /^status=404$/m, trace);
    });

    it("reads artifacts through the project API with a running job's CI_JOB_TOKEN, as GitLab allows", async () => {
      const source = await project('token-source', {
        '.gitlab-ci.yml': `
build:
  script: [echo secret > s.txt]
  artifacts: {paths: [s.txt]}
`,
      });
      const sourceRun = await runPipeline(source.id);
      assert.equal(sourceRun.job('build').status, 'success', sourceRun.traces.get('build'));
      // Each line: label=status:body (\`zip\` for an archive).
      const probe = `
const api = process.env.CI_API_V4_URL;
const token = process.env.CI_JOB_TOKEN;
const own = '/projects/' + process.env.CI_PROJECT_ID;
const other = '/projects/' + process.env.SOURCE;
const get = async (label, path, headers = { 'JOB-TOKEN': token }) => {
  const r = await fetch(api + path, { headers });
  const body = r.headers.get('content-type') === 'application/zip' ? 'zip' : (await r.text()).trim().slice(0, 40);
  console.log(label + '=' + r.status + ':' + (r.status === 200 ? body : ''));
};
await get('own-archive', own + '/jobs/' + process.env.BUILD_ID + '/artifacts');
await get('own-file', own + '/jobs/' + process.env.BUILD_ID + '/artifacts/m.txt?job_token=' + token, {});
await get('other-download', other + '/jobs/artifacts/main/download?job=build');
await get('other-raw', other + '/jobs/artifacts/main/raw/s.txt?job=build');
await get('other-file', other + '/jobs/' + process.env.SOURCE_JOB + '/artifacts/s.txt');
await get('bad-token', other + '/jobs/artifacts/main/raw/s.txt?job=build', { 'JOB-TOKEN': 'not-a-token' });
`;
      const reader = await project('token-reader', {
        'probe.mjs': probe,
        '.gitlab-ci.yml': `
stages: [build, test]
build:
  stage: build
  script: [echo mine > m.txt, echo BUILD_ID=$CI_JOB_ID > ids.env]
  artifacts: {paths: [m.txt], reports: {dotenv: ids.env}}
read:
  stage: test
  script: [node probe.mjs]
`,
      });
      const variables = [
        { key: 'SOURCE', value: String(source.id) },
        { key: 'SOURCE_JOB', value: String(sourceRun.job('build').id) },
      ];
      const run = async (token: string) => {
        const answer = await fetch(`${coordinator.url}/api/v4/projects/${reader.id}/pipeline`, {
          method: 'POST',
          headers: { 'private-token': token, 'content-type': 'application/json' },
          body: JSON.stringify({ ref: 'main', variables }),
        });
        assert.equal(answer.status, 201, await answer.clone().text());
        const pipeline = (await answer.json()) as { id: number };
        await coordinator.waitForPipeline(reader.id, pipeline.id);
        const read = await coordinator.job(reader.id, pipeline.id, 'read');
        return coordinator.trace(reader.id, read.id);
      };
      // Started by the admin, who may read the other project: every read succeeds.
      const byAdmin = await run(coordinator.adminToken);
      assert.match(byAdmin, /^own-archive=200:zip$/m, byAdmin);
      assert.match(byAdmin, /^own-file=200:mine$/m, byAdmin);
      assert.match(byAdmin, /^other-download=200:zip$/m, byAdmin);
      assert.match(byAdmin, /^other-raw=200:secret$/m, byAdmin);
      assert.match(byAdmin, /^other-file=200:secret$/m, byAdmin);
      assert.match(byAdmin, /^bad-token=403:$/m, byAdmin);
      // Started by a developer of the reader project only: its own artifacts, not the other's.
      const user = await coordinator.ok<{ id: number }>('POST', '/users', {
        username: 'token-dev',
        email: 'token-dev@example.test',
        name: 'Token Dev',
        password: 'a-long-password-1234',
      });
      const personal = await coordinator.ok<{ token: string }>(
        'POST',
        `/users/${user.id}/personal_access_tokens`,
        {
          name: 'e2e',
          scopes: ['api'],
        },
      );
      await coordinator.ok('POST', `/projects/${reader.id}/members`, { user_id: user.id, access_level: 30 });
      const byDeveloper = await run(personal.token);
      assert.match(byDeveloper, /^own-archive=200:zip$/m, byDeveloper);
      assert.match(byDeveloper, /^own-file=200:mine$/m, byDeveloper);
      assert.match(byDeveloper, /^other-download=404:$/m, byDeveloper);
      assert.match(byDeveloper, /^other-raw=404:$/m, byDeveloper);
      assert.match(byDeveloper, /^other-file=404:$/m, byDeveloper);
    });

    it('downloads the artifacts needs:project and needs:pipeline name, as the pipeline user may', async () => {
      const upstream = await project('xneeds-up', {
        '.gitlab-ci.yml': `
build:
  script: [echo from-upstream > lib.txt, echo UP_VERSION=7 > up.env]
  artifacts: {paths: [lib.txt], reports: {dotenv: up.env}}
`,
      });
      const upstreamRun = await runPipeline(upstream.id);
      assert.equal(upstreamRun.job('build').status, 'success', upstreamRun.traces.get('build'));
      const downstream = await project('xneeds-down', {
        '.gitlab-ci.yml': `
by-project:
  needs: [{project: $UPSTREAM, job: build, ref: main, artifacts: true}]
  script: [cat lib.txt, 'echo "version=$UP_VERSION"']
by-pipeline:
  needs: [{pipeline: $PARENT_PIPELINE_ID, job: build}]
  script: [cat lib.txt]
without-artifacts:
  needs: [{project: $UPSTREAM, job: build, ref: main, artifacts: false}]
  script: ['test ! -e lib.txt && echo got-nothing']
missing:
  needs: [{project: $UPSTREAM, job: nope, ref: main}]
  script: [echo never]
`,
      });
      const variables = [
        { key: 'UPSTREAM', value: 'xneeds-up-group/xneeds-up' },
        { key: 'PARENT_PIPELINE_ID', value: String(upstreamRun.pipeline.id) },
      ];
      const run = async (token: string) => {
        const answer = await fetch(`${coordinator.url}/api/v4/projects/${downstream.id}/pipeline`, {
          method: 'POST',
          headers: { 'private-token': token, 'content-type': 'application/json' },
          body: JSON.stringify({ ref: 'main', variables }),
        });
        assert.equal(answer.status, 201, await answer.clone().text());
        const pipeline = (await answer.json()) as { id: number };
        await coordinator.waitForPipeline(downstream.id, pipeline.id);
        const jobs = await coordinator.jobs(downstream.id, pipeline.id);
        const job = (name: string) => jobs.find((candidate) => candidate.name === name)!;
        const trace = (name: string) => coordinator.trace(downstream.id, job(name).id);
        return { job, trace };
      };
      const byAdmin = await run(coordinator.adminToken);
      const buildId = upstreamRun.job('build').id;
      for (const name of ['by-project', 'by-pipeline']) {
        const trace = await byAdmin.trace(name);
        assert.equal(byAdmin.job(name).status, 'success', trace);
        assert.match(trace, new RegExp(`Downloading artifacts for build \\(${buildId}\\)\\.\\.\\.`));
        assert.match(trace, /^from-upstream$/m);
      }
      assert.match(await byAdmin.trace('by-project'), /^version=7$/m);
      assert.equal(byAdmin.job('without-artifacts').status, 'success');
      assert.match(await byAdmin.trace('without-artifacts'), /^got-nothing$/m);
      assert.equal(byAdmin.job('missing').status, 'failed');
      assert.equal(byAdmin.job('missing').failure_reason, 'missing_dependency_failure');
      assert.match(
        await byAdmin.trace('missing'),
        /ERROR: Job failed before it started: needs:project xneeds-up-group\/xneeds-up job "nope" on ref "main": no successful job/,
      );
      // A developer of the downstream project only may not read the upstream one: the same
      // needs fail, and nothing of the upstream project is downloaded.
      const user = await coordinator.ok<{ id: number }>('POST', '/users', {
        username: 'xneeds-dev',
        email: 'xneeds-dev@example.test',
        name: 'Needs Dev',
        password: 'a-long-password-1234',
      });
      const personal = await coordinator.ok<{ token: string }>(
        'POST',
        `/users/${user.id}/personal_access_tokens`,
        { name: 'e2e', scopes: ['api'] },
      );
      await coordinator.ok('POST', `/projects/${downstream.id}/members`, {
        user_id: user.id,
        access_level: 30,
      });
      const byDeveloper = await run(personal.token);
      for (const name of ['by-project', 'by-pipeline']) {
        const trace = await byDeveloper.trace(name);
        assert.equal(byDeveloper.job(name).status, 'failed', trace);
        assert.equal(byDeveloper.job(name).failure_reason, 'missing_dependency_failure');
        assert.doesNotMatch(trace, /from-upstream/);
      }
    });

    it('shares a cache between runners through S3 (--cache-s3)', {
      skip: dialect !== 'postgres',
    }, async () => {
      // The suite's runner stops: each pipeline below runs on a runner of its own.
      await runner.stop();
      const { id } = await project('shared-cache', {
        '.gitlab-ci.yml': `
job:
  cache: {key: shared, paths: [.deps/]}
  script:
    - if [ -f .deps/from ]; then echo "restored from $(cat .deps/from)"; else echo "cold cache"; fi
    - mkdir -p .deps && echo "pipeline-$CI_PIPELINE_ID" > .deps/from
`,
      });
      const runWith = async (name: string) => {
        const own = startTessera(
          [
            'runner',
            '--url',
            runnerNode.url,
            '--builds-dir',
            join(root, `builds-${name}`),
            '--executor',
            'shell',
            '--cache-s3',
            's3://ci-artifacts/caches',
          ],
          {
            ...S3_ENV_FOR_CACHE,
            TESSERA_CACHE_S3_ENDPOINT: s3Endpoint,
            TESSERA_RUNNER_TOKEN: await coordinator.registerRunner(),
          },
        );
        try {
          return await runPipeline(id);
        } finally {
          await own.stop();
        }
      };
      const first = await runWith('a');
      assert.match(first.traces.get('job')!, /^cold cache$/m);
      assert.match(
        first.traces.get('job')!,
        /Uploading cache\.zip to s3 .*shared-cache\/shared-non_protected\/cache\.zip/,
      );
      const second = await runWith('b');
      assert.match(second.traces.get('job')!, /Downloading cache from s3 /);
      assert.match(
        second.traces.get('job')!,
        new RegExp(`^restored from pipeline-${first.pipeline.id}$`, 'm'),
      );
    });
  });
}
