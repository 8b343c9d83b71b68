import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { writeZip } from '../../src/artifacts/zip-writer.js';
import { makeRepository } from '../coordinator/git-fixture.js';
import { setUpProject } from '../coordinator/project-fixture.js';
import { registerRunner, requestJob, type TestJobPayload } from '../coordinator/runner-client.js';
import { startTestCoordinator, type TestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';

/** A zip of one file, as the runner uploads it. */
async function zipOf(name: string, content: string): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-public-artifacts-'));
  writeFileSync(join(dir, 'file'), content);
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  await writeZip([{ kind: 'file', name, source: join(dir, 'file'), mode: 0o644, mtime: new Date() }], out);
  out.end();
  return Buffer.concat(chunks);
}

async function uploadArchive(c: TestCoordinator, job: TestJobPayload, bytes: Buffer): Promise<void> {
  const form = new FormData();
  form.set('file', new Blob([new Uint8Array(bytes)]), 'artifacts.zip');
  const answer = await fetch(
    `${c.url}/api/v4/jobs/${job.id}/artifacts?artifact_type=archive&artifact_format=zip`,
    { method: 'POST', headers: { 'job-token': job.token }, body: form },
  );
  if (answer.status !== 201) throw new Error(`upload: ${answer.status} ${await answer.text()}`);
}

const sha256 = (bytes: Buffer | Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const CONFIG = `open:
  script: [echo]
  artifacts:
    paths: [dist/]
closed:
  script: [echo]
  artifacts:
    public: false
    paths: [dist/]
`;

/** Runs the pipeline's two jobs far enough that each has uploaded its archive; answers them by name. */
async function jobsWithArchives(
  c: TestCoordinator,
  projectId: number,
  token: string,
  runnerToken: string,
): Promise<Map<string, { id: number; archive: Buffer }>> {
  const created = await c.api('POST', `/api/v4/projects/${projectId}/pipeline?ref=main`, { token });
  assert.equal(created.status, 201, created.text);
  const out = new Map<string, { id: number; archive: Buffer }>();
  for (let i = 0; i < 2; i += 1) {
    const job = await requestJob(c, runnerToken);
    assert.ok(job, 'a job to run');
    const archive = await zipOf('dist/out.txt', `made by ${job.job_info.name}\n`);
    await uploadArchive(c, job, archive);
    out.set(job.job_info.name, { id: job.id, archive });
  }
  return out;
}

for (const dialect of testDialects()) {
  describe(`artifacts of public projects for visitors [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('lets anyone download a public project’s artifacts, never with public: false or of a private project', async () => {
      const c = await startTestCoordinator(dialect);
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      const pub = await setUpProject(c, repo.path, { path: 'pub' });
      const priv = await setUpProject(c, repo.path, { path: 'priv' });
      assert.equal(
        (await c.api('PUT', `/api/v4/groups/${pub.groupId}`, { body: { visibility: 'public' } })).status,
        200,
      );
      const made = await c.api('PUT', `/api/v4/projects/${pub.projectId}`, {
        body: { visibility: 'public' },
      });
      assert.equal(made.status, 200, made.text);
      const runnerToken = await registerRunner(c);
      const pubJobs = await jobsWithArchives(c, pub.projectId, pub.developer.token, runnerToken);
      const privJobs = await jobsWithArchives(c, priv.projectId, priv.developer.token, runnerToken);
      const open = pubJobs.get('open')!;
      const closed = pubJobs.get('closed')!;

      // The API without any token: the public project's open artifacts, whole and file by file.
      const archive = await fetch(`${c.url}/api/v4/projects/${pub.projectId}/jobs/${open.id}/artifacts`);
      assert.equal(archive.status, 200);
      assert.equal(sha256(new Uint8Array(await archive.arrayBuffer())), sha256(open.archive));
      const file = await fetch(`${c.url}/api/v4/projects/acme%2Fpub/jobs/${open.id}/artifacts/dist/out.txt`);
      assert.equal(file.status, 200);
      assert.equal(await file.text(), 'made by open\n');
      const latest = await fetch(
        `${c.url}/api/v4/projects/${pub.projectId}/jobs/artifacts/main/download?job=open`,
      );
      // The pipeline has not succeeded yet: no "latest successful" job, said as a 404.
      assert.equal(latest.status, 404);

      // public: false (access: developer): a 404 for a visitor and for a signed-in outsider.
      const refused = await fetch(`${c.url}/api/v4/projects/${pub.projectId}/jobs/${closed.id}/artifacts`);
      assert.equal(refused.status, 404);
      assert.equal((await refused.json()).error, 'ERR_ARTIFACTS_NOT_FOUND');
      const outsider = await c.api('POST', '/api/v4/users', {
        body: { username: 'outsider', email: 'outsider@example.com', name: 'outsider' },
      });
      const outsiderToken = (
        await c.api('POST', `/api/v4/users/${outsider.body.id}/personal_access_tokens`, {
          body: { name: 't', scopes: ['read_api'] },
        })
      ).body.token as string;
      const asOutsider = (jobId: number) =>
        fetch(`${c.url}/api/v4/projects/${pub.projectId}/jobs/${jobId}/artifacts`, {
          headers: { 'private-token': outsiderToken },
        });
      assert.equal((await asOutsider(open.id)).status, 200);
      assert.equal((await asOutsider(closed.id)).status, 404);
      // A member developer still gets them.
      const member = await fetch(`${c.url}/api/v4/projects/${pub.projectId}/jobs/${closed.id}/artifacts`, {
        headers: { 'private-token': pub.developer.token },
      });
      assert.equal(member.status, 200);

      // The web path, as a visitor: the same rule.
      const web = await fetch(`${c.url}/acme/pub/-/jobs/${open.id}/artifacts/download`, {
        redirect: 'manual',
      });
      assert.equal(web.status, 200);
      assert.equal(web.headers.get('content-disposition'), 'attachment; filename="artifacts.zip"');
      assert.equal(sha256(new Uint8Array(await web.arrayBuffer())), sha256(open.archive));
      const webRefused = await fetch(`${c.url}/acme/pub/-/jobs/${closed.id}/artifacts/download`, {
        redirect: 'manual',
      });
      assert.equal(webRefused.status, 404);
      const page = await (await fetch(`${c.url}/acme/pub/-/jobs/${open.id}`)).text();
      assert.match(page, new RegExp(`href="/acme/pub/-/jobs/${open.id}/artifacts/download"`));
      const closedPage = await (await fetch(`${c.url}/acme/pub/-/jobs/${closed.id}`)).text();
      assert.doesNotMatch(closedPage, /artifacts\/download/);

      // A private project: the API says 404 without a token (nothing says it exists), the web
      // path sends the visitor to sign in, as every private page.
      const privOpen = privJobs.get('open')!;
      const privApi = await fetch(`${c.url}/api/v4/projects/${priv.projectId}/jobs/${privOpen.id}/artifacts`);
      assert.equal(privApi.status, 404);
      assert.equal((await privApi.json()).error, 'ERR_NOT_FOUND');
      const missing = await fetch(`${c.url}/api/v4/projects/999999/jobs/${privOpen.id}/artifacts`);
      assert.equal(missing.status, 404);
      const privWeb = await fetch(`${c.url}/acme/priv/-/jobs/${privOpen.id}/artifacts/download`, {
        redirect: 'manual',
      });
      assert.equal(privWeb.status, 302);
      assert.match(privWeb.headers.get('location') ?? '', /^\/users\/sign_in/);
      // An internal project is for signed-in users: a visitor gets the same 404.
      await c.api('PUT', `/api/v4/projects/${priv.projectId}`, { body: { visibility: 'internal' } });
      const internal = await fetch(
        `${c.url}/api/v4/projects/${priv.projectId}/jobs/${privOpen.id}/artifacts`,
      );
      assert.equal(internal.status, 404);
    });
  });
}
