import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { startTestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { appendTrace, launchBrowser, setUpWebProject, startPipeline } from './browser-fixture.js';

async function signInAs(page: Page, url: string, login: string, password: string): Promise<void> {
  await page.goto(`${url}/users/sign_in`);
  await page.getByLabel('Username or email').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/users/sign_in'));
}

const LOG_LINE = 'a-line-only-job-readers-see';

for (const dialect of testDialects()) {
  describe(`web UI: public_jobs [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('shows visitors and non-members a public project’s pipelines but not its jobs while public_jobs is off', async () => {
      const c = await startTestCoordinator(dialect);
      const fixture = await setUpWebProject(c);
      const { pipelineId, job } = await startPipeline(c, fixture);
      await appendTrace(c, job, 0, `${LOG_LINE}\n`);
      await c.api('PUT', `/api/v4/groups/${fixture.groupId}`, { body: { visibility: 'public' } });
      const made = await c.api('PUT', `/api/v4/projects/${fixture.projectId}`, {
        body: { visibility: 'public' },
      });
      assert.equal(made.status, 200, made.text);
      const visit = (path: string) => fetch(`${c.url}/acme/app${path}`, { redirect: 'manual' });

      // On (the default): a visitor reads the job and its log.
      const openJob = await visit(`/-/jobs/${job.id}`);
      assert.equal(openJob.status, 200);
      assert.match(await openJob.text(), new RegExp(LOG_LINE));
      assert.match(await (await visit('')).text(), /class="pipelines"/);

      const off = await c.api('PUT', `/api/v4/projects/${fixture.projectId}`, {
        body: { public_jobs: false },
      });
      assert.equal(off.status, 200, off.text);

      // Off: the project page says who sees its pipelines and lists none; the pipeline page shows
      // the jobs' names and statuses without a link; every job path is a 404 without the log.
      const project = await (await visit('')).text();
      assert.match(project, /id="pipelines-hidden"/);
      assert.doesNotMatch(project, /class="pipelines"/);
      assert.equal((await visit('/-/pipelines')).status, 404);
      const pipeline = await visit(`/-/pipelines/${pipelineId}`);
      assert.equal(pipeline.status, 200);
      const pipelineHtml = await pipeline.text();
      assert.match(pipelineHtml, /build/);
      assert.doesNotMatch(pipelineHtml, /\/-\/jobs\//);
      for (const path of ['', '/raw', '/log_stream', '/artifacts/download']) {
        const answer = await visit(`/-/jobs/${job.id}${path}`);
        assert.equal(answer.status, 404, path);
        assert.doesNotMatch(await answer.text(), new RegExp(LOG_LINE), path);
      }

      // Signed in: an outsider is refused the same; a member (Developer) reads the log as before.
      const browser = await launchBrowser();
      const page = await (await browser.newContext()).newPage();
      await signInAs(page, c.url, 'outsider', fixture.passwords.outsider);
      assert.equal((await page.goto(`${c.url}/acme/app/-/jobs/${job.id}`))?.status(), 404);
      await page.goto(`${c.url}/acme/app/-/pipelines/${pipelineId}`);
      const buildJob = page.locator('.stage li').filter({ has: page.getByText('build', { exact: true }) });
      assert.equal(await buildJob.count(), 1, 'the job is listed');
      assert.equal(await buildJob.locator('a').count(), 0, 'without a link');
      const memberPage = await (await browser.newContext()).newPage();
      await signInAs(memberPage, c.url, 'dev-app', fixture.passwords.developer);
      await memberPage.goto(`${c.url}/acme/app/-/pipelines/${pipelineId}`);
      await memberPage.getByRole('link', { name: 'build' }).click();
      await memberPage.waitForURL(`${c.url}/acme/app/-/jobs/${job.id}`);
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what the test checks
      assert.match(await memberPage.locator('#job-log').innerText(), new RegExp(LOG_LINE));
    });
  });
}
