import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { writeZip } from '../../src/artifacts/zip-writer.js';
import { makeRepository } from '../coordinator/git-fixture.js';
import { setUpProject } from '../coordinator/project-fixture.js';
import { registerRunner, requestJob, type TestJobPayload } from '../coordinator/runner-client.js';
import { startTestCoordinator, type TestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { launchBrowser, setUpWebProject, startPipeline } from './browser-fixture.js';

/** What a person sees of an element. */
function text(locator: Locator): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what the test checks
  return locator.innerText();
}

async function signInAs(page: Page, url: string, login: string, password: string): Promise<void> {
  await page.goto(`${url}/users/sign_in`);
  await page.getByLabel('Username or email').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/users/sign_in'));
}

/** A zip of one file, as the runner uploads it. */
async function zipOf(name: string, content: string): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-web-artifacts-'));
  writeFileSync(join(dir, 'file'), content);
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  await writeZip([{ kind: 'file', name, source: join(dir, 'file'), mode: 0o644, mtime: new Date() }], out);
  out.end();
  return Buffer.concat(chunks);
}

/** Uploads `bytes` as the running job's archive (`POST /jobs/:id/artifacts`, as the runner does). */
async function uploadArchive(c: TestCoordinator, job: TestJobPayload, bytes: Buffer): Promise<void> {
  const form = new FormData();
  form.set('file', new Blob([new Uint8Array(bytes)]), 'artifacts.zip');
  const answer = await fetch(
    `${c.url}/api/v4/jobs/${job.id}/artifacts?artifact_type=archive&artifact_format=zip&expire_in=1%20week`,
    { method: 'POST', headers: { 'job-token': job.token }, body: form },
  );
  if (answer.status !== 201) throw new Error(`upload: ${answer.status} ${await answer.text()}`);
}

const sha256 = (bytes: Buffer | Uint8Array) => createHash('sha256').update(bytes).digest('hex');

for (const dialect of testDialects()) {
  describe(`web UI: artifacts and public projects [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('lists a job’s artifacts and downloads the archive at GitLab’s web path, as the API allows', async () => {
      const c = await startTestCoordinator(dialect);
      const fixture = await setUpWebProject(c);
      const { job } = await startPipeline(c, fixture);
      const archive = await zipOf('dist/app.txt', 'built\n');
      await uploadArchive(c, job, archive);
      const browser = await launchBrowser();
      const context = await browser.newContext();
      const page = await context.newPage();
      await signInAs(page, c.url, 'dev-app', fixture.passwords.developer);
      await page.goto(`${c.url}/acme/app/-/jobs/${job.id}`);
      const table = await text(page.locator('table.artifacts'));
      assert.match(table, /archive\s+artifacts\.zip \(zip\)\s+\d+(\.\d)? (B|KiB)\s+\d{4}-\d\d-\d\dT/);
      const link = page.getByRole('link', { name: 'Download artifacts' });
      assert.equal(await link.getAttribute('href'), `/acme/app/-/jobs/${job.id}/artifacts/download`);
      const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
      assert.equal(download.suggestedFilename(), 'artifacts.zip');
      const saved = await download.createReadStream();
      const chunks: Buffer[] = [];
      for await (const chunk of saved) chunks.push(chunk as Buffer);
      assert.equal(sha256(Buffer.concat(chunks)), sha256(archive), 'the uploaded bytes');
      // The same bytes as the API's route.
      const api = await fetch(`${c.url}/api/v4/projects/${fixture.projectId}/jobs/${job.id}/artifacts`, {
        headers: { 'private-token': fixture.developer.token },
      });
      assert.equal(sha256(new Uint8Array(await api.arrayBuffer())), sha256(archive));
      // No session: sent to sign in (the project is private); an outsider: 404.
      const anonymous = await fetch(`${c.url}/acme/app/-/jobs/${job.id}/artifacts/download`, {
        redirect: 'manual',
      });
      assert.equal(anonymous.status, 302);
      assert.match(anonymous.headers.get('location') ?? '', /^\/users\/sign_in/);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await signInAs(page, c.url, 'outsider', fixture.passwords.outsider);
      const refused = await context.request.get(`${c.url}/acme/app/-/jobs/${job.id}/artifacts/download`);
      assert.equal(refused.status(), 404);
      // A job without artifacts: the page says so, the download is a 404.
      await page.getByRole('button', { name: 'Sign out' }).click();
      await signInAs(page, c.url, 'dev-app', fixture.passwords.developer);
      const jobs = await c.api('GET', `/api/v4/projects/${fixture.projectId}/jobs?scope=created`);
      const other = (jobs.body as Array<{ id: number; name: string }>).find((j) => j.name === 'test')!;
      await page.goto(`${c.url}/acme/app/-/jobs/${other.id}`);
      assert.match(await text(page.locator('main')), /This job has no artifacts/);
      assert.equal(await page.getByRole('link', { name: 'Download artifacts' }).count(), 0);
      const none = await context.request.get(`${c.url}/acme/app/-/jobs/${other.id}/artifacts/download`);
      assert.equal(none.status(), 404);
    });

    it('keeps the archive from a developer when artifacts:access asks for a maintainer', async () => {
      const c = await startTestCoordinator(dialect);
      const repo = await makeRepository({
        '.gitlab-ci.yml':
          'build:\n  script: [echo]\n  artifacts:\n    access: maintainer\n    paths: [dist/]\n',
      });
      const fixture = await setUpProject(c, repo.path, { path: 'lib' });
      await c.api('PUT', `/api/v4/users/${fixture.developer.id}`, { body: { password: 'developer-pass-1' } });
      await c.api('PUT', `/api/v4/users/${fixture.maintainer.id}`, {
        body: { password: 'maintainer-pass-1' },
      });
      const runnerToken = await registerRunner(c);
      const created = await c.api('POST', `/api/v4/projects/${fixture.projectId}/pipeline?ref=main`, {
        token: fixture.developer.token,
      });
      assert.equal(created.status, 201, created.text);
      const job = (await requestJob(c, runnerToken))!;
      const archive = await zipOf('dist/lib.txt', 'lib\n');
      await uploadArchive(c, job, archive);
      const browser = await launchBrowser();
      const context = await browser.newContext();
      const page = await context.newPage();
      await signInAs(page, c.url, 'dev-lib', 'developer-pass-1');
      await page.goto(`${c.url}/acme/lib/-/jobs/${job.id}`);
      assert.match(await text(page.locator('table.artifacts')), /archive/, 'listed');
      assert.equal(await page.getByRole('link', { name: 'Download artifacts' }).count(), 0, 'no link');
      const web = await context.request.get(`${c.url}/acme/lib/-/jobs/${job.id}/artifacts/download`);
      assert.equal(web.status(), 404);
      const api = await c.api('GET', `/api/v4/projects/${fixture.projectId}/jobs/${job.id}/artifacts`, {
        token: fixture.developer.token,
      });
      assert.equal(api.status, 404);
      assert.equal(api.body.error, 'ERR_ARTIFACTS_NOT_FOUND');
      await page.getByRole('button', { name: 'Sign out' }).click();
      await signInAs(page, c.url, 'maint-lib', 'maintainer-pass-1');
      await page.goto(`${c.url}/acme/lib/-/jobs/${job.id}`);
      const allowed = await context.request.get(`${c.url}/acme/lib/-/jobs/${job.id}/artifacts/download`);
      assert.equal(allowed.status(), 200);
      assert.equal(sha256(await allowed.body()), sha256(archive));
    });
    it('shows a public project read-only to a visitor, and sends them to sign in for any other', async () => {
      const c = await startTestCoordinator(dialect);
      const fixture = await setUpWebProject(c);
      const { pipelineId, job } = await startPipeline(c, fixture);
      await uploadArchive(c, job, await zipOf('dist/app.txt', 'built\n'));
      const group = await c.api('PUT', `/api/v4/groups/${fixture.groupId}`, {
        body: { visibility: 'public' },
      });
      assert.equal(group.status, 200, group.text);
      const made = await c.api('PUT', `/api/v4/projects/${fixture.projectId}`, {
        body: { visibility: 'public' },
      });
      assert.equal(made.status, 200, made.text);
      const repo = await makeRepository({ '.gitlab-ci.yml': 'build:\n  script: [echo]\n' });
      for (const [path, visibility] of [
        ['inner', 'internal'],
        ['hidden', 'private'],
      ] as const) {
        const other = await c.api('POST', '/api/v4/projects', {
          body: { name: path, path, namespace_id: fixture.groupId, repository_url: repo.path, visibility },
        });
        assert.equal(other.status, 201, other.text);
      }
      const browser = await launchBrowser();
      const context = await browser.newContext();
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));

      // `/`: the public projects only, and a way to sign in.
      await page.goto(`${c.url}/`);
      assert.equal(new URL(page.url()).pathname, '/');
      const home = await text(page.locator('main'));
      assert.match(home, /acme\/app/);
      assert.doesNotMatch(home, /acme\/inner|acme\/hidden/);
      assert.equal(await page.getByRole('link', { name: 'Sign in' }).getAttribute('href'), '/users/sign_in');

      // The project, pipeline and job pages, without actions, audit or variables.
      await page.getByRole('link', { name: 'acme/app' }).click();
      await page.waitForURL(`${c.url}/acme/app`);
      assert.match(await text(page.locator('table.pipelines')), /running/);
      assert.equal(await page.getByText('Run pipeline').count(), 0);
      assert.equal(await page.getByRole('link', { name: 'ID tokens' }).count(), 0);
      await page.goto(`${c.url}/acme/app/-/pipelines/${pipelineId}`);
      assert.match(await text(page.locator('h1')), new RegExp(`Pipeline #${pipelineId}`));
      assert.equal(await page.getByRole('button').count(), 0, 'no action');
      await page.goto(`${c.url}/acme/app/-/jobs/${job.id}`);
      assert.equal(await page.locator('#job-status').getAttribute('data-status'), 'running');
      assert.equal(await page.locator('#job-log').count(), 1, 'the log of a public project');
      assert.match(await text(page.locator('table.artifacts')), /archive/);
      // A public project's artifacts (access: all) are everyone's, as GitLab lets visitors download them.
      assert.equal(await page.getByRole('link', { name: 'Download artifacts' }).count(), 1);
      const download = await fetch(`${c.url}/acme/app/-/jobs/${job.id}/artifacts/download`);
      assert.equal(download.status, 200);
      assert.equal(download.headers.get('content-type'), 'application/zip');
      assert.equal(await page.getByRole('button').count(), 0, 'no action');
      const main = await text(page.locator('main'));
      assert.doesNotMatch(main, /ID tokens|Variables|GLOBAL_SETTING/);
      assert.deepEqual(pageErrors, []);

      // Anything else asks the visitor to sign in: the audit, a form, an internal, a private or
      // a missing project alike (nothing says which exist).
      for (const path of [
        '/acme/app/-/id_tokens',
        '/acme/app/-/id_tokens/preview',
        '/acme/inner/-/jobs/1/artifacts/download',
        '/acme/inner',
        '/acme/hidden',
        '/acme/missing',
        '/groups/acme',
      ]) {
        const answer = await fetch(`${c.url}${path}`, { redirect: 'manual' });
        assert.equal(answer.status, 302, path);
        assert.equal(
          answer.headers.get('location'),
          `/users/sign_in?redirect_to=${encodeURIComponent(path)}`,
        );
      }
      const cancel = await fetch(`${c.url}/acme/app/-/jobs/${job.id}/cancel`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'authenticity_token=',
      });
      assert.equal(cancel.status, 302);
      assert.equal(
        (await c.api('GET', `/api/v4/projects/${fixture.projectId}/jobs/${job.id}`)).body.status,
        'running',
      );

      // Signed in, an outsider reads the internal project; the private one stays a 404.
      await signInAs(page, c.url, 'outsider', fixture.passwords.outsider);
      assert.equal((await page.goto(`${c.url}/acme/inner`))?.status(), 200);
      assert.equal((await page.goto(`${c.url}/acme/hidden`))?.status(), 404);
      assert.equal(await page.getByRole('link', { name: 'Sign in' }).count(), 0);
    });
  });
}
