import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { writeZip } from '../../src/artifacts/zip-writer.js';
import { makeRepository } from '../coordinator/git-fixture.js';
import { setUpProject } from '../coordinator/project-fixture.js';
import { registerRunner, requestJob, type TestJobPayload } from '../coordinator/runner-client.js';
import { testDialects } from '../store/dialects.js';
import { startTestCoordinator, type TestCoordinator } from './harness.js';

const CONFIG = `build:
  script: [echo built]
  artifacts:
    paths: [dist/]
`;

const LOG = 'compiling\nbuilt\n';

/** A zip of one file, as the runner uploads it. */
async function zipOf(name: string, content: string): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-public-jobs-'));
  writeFileSync(join(dir, 'file'), content);
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  await writeZip([{ kind: 'file', name, source: join(dir, 'file'), mode: 0o644, mtime: new Date() }], out);
  out.end();
  return Buffer.concat(chunks);
}

/** The running job's log and archive, sent as the runner sends them. */
async function runnerWrites(c: TestCoordinator, job: TestJobPayload): Promise<void> {
  const trace = await c.api('PATCH', `/api/v4/jobs/${job.id}/trace`, {
    token: null,
    headers: {
      'job-token': job.token,
      'content-range': `0-${Buffer.byteLength(LOG) - 1}`,
      'content-type': 'text/plain',
    },
    body: LOG,
  });
  assert.equal(trace.status, 202, trace.text);
  const form = new FormData();
  form.set('file', new Blob([new Uint8Array(await zipOf('dist/out.txt', 'out\n'))]), 'artifacts.zip');
  const upload = await fetch(
    `${c.url}/api/v4/jobs/${job.id}/artifacts?artifact_type=archive&artifact_format=zip`,
    { method: 'POST', headers: { 'job-token': job.token }, body: form },
  );
  assert.equal(upload.status, 201, await upload.text());
}

async function userWithToken(c: TestCoordinator, username: string): Promise<{ id: number; token: string }> {
  const user = await c.api('POST', '/api/v4/users', {
    body: { username, email: `${username}@example.com`, name: username },
  });
  const token = await c.api('POST', `/api/v4/users/${user.body.id}/personal_access_tokens`, {
    body: { name: 't', scopes: ['read_api'] },
  });
  return { id: user.body.id, token: token.body.token };
}

for (const dialect of testDialects()) {
  describe(`public_jobs (GitLab's Public pipelines) through the API [${dialect.name}]`, {
    skip: dialect.skip,
  }, () => {
    it('opens jobs, logs and artifacts below the Reporter role while on, only pipelines while off', async () => {
      const c = await startTestCoordinator(dialect);
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      const fixture = await setUpProject(c, repo.path);
      const id = fixture.projectId;
      assert.equal(
        (await c.api('PUT', `/api/v4/groups/${fixture.groupId}`, { body: { visibility: 'public' } })).status,
        200,
      );
      const outsider = await userWithToken(c, 'outsider');
      const guest = await userWithToken(c, 'guest');
      const member = await c.api('POST', `/api/v4/groups/${fixture.groupId}/members`, {
        body: { user_id: guest.id, access_level: 10 },
      });
      assert.equal(member.status, 201, member.text);
      const runnerToken = await registerRunner(c);
      const created = await c.api('POST', `/api/v4/projects/${id}/pipeline?ref=main`, {
        token: fixture.developer.token,
      });
      assert.equal(created.status, 201, created.text);
      const pipelineId: number = created.body.id;
      const job = await requestJob(c, runnerToken);
      assert.ok(job, 'the job, claimed');
      await runnerWrites(c, job);

      const reads = {
        pipelines: `/api/v4/projects/${id}/pipelines`,
        pipeline: `/api/v4/projects/${id}/pipelines/${pipelineId}`,
        latest: `/api/v4/projects/${id}/pipelines/latest`,
        pipelineJobs: `/api/v4/projects/${id}/pipelines/${pipelineId}/jobs`,
        jobs: `/api/v4/projects/${id}/jobs`,
        job: `/api/v4/projects/${id}/jobs/${job.id}`,
        trace: `/api/v4/projects/${id}/jobs/${job.id}/trace`,
        artifacts: `/api/v4/projects/${id}/jobs/${job.id}/artifacts`,
      };
      /** The status of every read, for `token` (null: none). */
      const statuses = async (token: string | null) => {
        const out: Record<string, number> = {};
        for (const [name, path] of Object.entries(reads))
          out[name] = (await c.api('GET', path, { token })).status;
        return out;
      };
      const everything = Object.fromEntries(Object.keys(reads).map((name) => [name, 200]));
      const setProject = async (body: Record<string, unknown>, token = fixture.maintainer.token) =>
        c.api('PUT', `/api/v4/projects/${id}`, { token, body });

      // GitLab's default: on. A public project's jobs are everyone's, a non-member's and a Guest's.
      const made = await setProject({ visibility: 'public' });
      assert.equal(made.status, 200, made.text);
      assert.deepEqual([made.body.public_jobs, made.body.public_builds], [true, true]);
      assert.deepEqual(await statuses(outsider.token), everything);
      assert.deepEqual(await statuses(guest.token), everything);
      assert.equal((await c.api('GET', reads.trace, { token: outsider.token })).text, LOG);
      // Without a token: the jobs API asks for one (as GitLab's), artifacts are anyone's.
      assert.equal((await c.api('GET', reads.trace, { token: null })).status, 401);
      assert.equal((await c.api('GET', reads.artifacts, { token: null })).status, 200);

      // Off: only Maintainers change it.
      const byDeveloper = await setProject({ public_jobs: false }, fixture.developer.token);
      assert.equal(byDeveloper.status, 403);
      const off = await setProject({ public_jobs: false });
      assert.equal(off.status, 200, off.text);
      assert.deepEqual([off.body.public_jobs, off.body.public_builds], [false, false]);
      assert.equal(
        (await c.api('GET', `/api/v4/projects/${id}`, { token: outsider.token })).body.public_jobs,
        false,
      );

      // Below Reporter: a pipeline's status, nothing of its jobs (GitLab's read_pipeline without
      // read_build: its pipelines list asks for both, 403).
      const pipelinesOnly = {
        pipelines: 403,
        pipeline: 200,
        latest: 200,
        pipelineJobs: 403,
        jobs: 403,
        job: 403,
        trace: 403,
        artifacts: 404,
      };
      assert.deepEqual(await statuses(outsider.token), pipelinesOnly);
      assert.deepEqual(await statuses(guest.token), pipelinesOnly);
      const refused = await c.api('GET', reads.trace, { token: outsider.token });
      assert.equal(refused.body.error, 'ERR_FORBIDDEN');
      assert.match(refused.body.message, /Reporter role.*public_jobs/);
      assert.doesNotMatch(refused.text, /compiling/);
      const artifactsRefused = await c.api('GET', reads.artifacts, { token: outsider.token });
      assert.equal(artifactsRefused.body.error, 'ERR_ARTIFACTS_NOT_FOUND');
      assert.equal((await c.api('GET', reads.artifacts, { token: null })).status, 404);
      // Members from Reporter up are unaffected.
      assert.deepEqual(await statuses(fixture.developer.token), everything);
      assert.equal((await c.api('GET', reads.trace, { token: fixture.developer.token })).text, LOG);

      // An internal project: the same for signed-in non-members.
      assert.equal((await setProject({ visibility: 'internal' })).status, 200);
      assert.deepEqual(await statuses(outsider.token), pipelinesOnly);
      // A private one: a non-member sees nothing (404); a Guest, not even the pipelines.
      assert.equal((await setProject({ visibility: 'private' })).status, 200);
      assert.equal((await c.api('GET', reads.pipeline, { token: outsider.token })).status, 404);
      const guestPrivate = await statuses(guest.token);
      assert.deepEqual([guestPrivate.pipeline, guestPrivate.trace], [403, 403]);

      // On again, in GitLab's other spellings: the deprecated `public_builds`, form-encoded.
      const back = await c.api('PUT', `/api/v4/projects/${id}`, {
        token: fixture.maintainer.token,
        form: { public_builds: 'true' },
      });
      assert.equal(back.status, 200, back.text);
      assert.equal(back.body.public_jobs, true);
      // A private project's jobs are its Guests' then (GitLab: "all project members, Guest or higher").
      assert.deepEqual(await statuses(guest.token), everything);
      assert.equal((await c.api('GET', reads.trace, { token: outsider.token })).status, 404);
      // An internal project's, every signed-in user's.
      assert.equal((await setProject({ visibility: 'internal' })).status, 200);
      assert.deepEqual(await statuses(outsider.token), everything);
      // Both names at once: `public_jobs` wins, as GitLab.
      const both = await setProject({ public_jobs: false, public_builds: true });
      assert.deepEqual([both.body.public_jobs, both.body.public_builds], [false, false]);
      const notBoolean = await setProject({ public_jobs: 'sometimes' });
      assert.equal(notBoolean.status, 400);
      assert.equal(notBoolean.body.error, 'ERR_VALIDATION');
    });

    it('takes public_jobs (or public_builds) on POST /projects', async () => {
      const c = await startTestCoordinator(dialect);
      const group = await c.api('POST', '/api/v4/groups', { body: { name: 'g', path: 'g' } });
      const create = (body: Record<string, unknown>) =>
        c.api('POST', '/api/v4/projects', {
          body: { namespace_id: group.body.id, repository_url: '/srv/x.git', ...body },
        });
      const plain = await create({ name: 'plain' });
      assert.equal(plain.status, 201, plain.text);
      assert.equal(plain.body.public_jobs, true);
      const closed = await create({ name: 'closed', public_jobs: false });
      assert.deepEqual([closed.body.public_jobs, closed.body.public_builds], [false, false]);
      const legacy = await create({ name: 'legacy', public_builds: false });
      assert.equal(legacy.body.public_jobs, false);
      const read = await c.api('GET', `/api/v4/projects/${closed.body.id}`);
      assert.equal(read.body.public_jobs, false);
    });
  });
}
