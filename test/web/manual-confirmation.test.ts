// manual_confirmation in Chromium: the job page's Run asks to confirm the job's text first (a box
// described by the text), and the server refuses a run that skips it; other manual jobs run at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeRepository } from '../coordinator/git-fixture.js';
import { setUpProject } from '../coordinator/project-fixture.js';
import { startTestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { launchBrowser } from './browser-fixture.js';

const CONFIG = `
deploy:
  script: [echo deploy]
  when: manual
  manual_confirmation: Deploy to production?
by-rule:
  script: [echo by rule]
  manual_confirmation: Really run it?
  rules:
    - when: manual
quick:
  script: [echo quick]
  when: manual
`;

for (const dialect of testDialects()) {
  describe(`manual_confirmation in the web UI [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('asks to confirm the text before Run, refuses a run without it, and runs once confirmed', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      await c.api('PUT', `/api/v4/users/${p.developer.id}`, { body: { password: 'developer-pass-1' } });
      const created = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
        token: p.developer.token,
      });
      assert.equal(created.status, 201, created.text);
      const listed = await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines/${created.body.id}/jobs`, {
        token: p.developer.token,
      });
      const jobs = Object.fromEntries(
        listed.body.map((job: { name: string; id: number; status: string }) => [job.name, job]),
      ) as Record<string, { id: number; status: string }>;
      assert.deepEqual(
        Object.values(jobs).map((job) => job.status),
        ['manual', 'manual', 'manual'],
      );
      // GitLab's jobs API has no manual_confirmation field; Tessera's neither.
      assert.equal(JSON.stringify(listed.body).includes('Deploy to production?'), false);
      const status = async (name: string) =>
        (
          await c.api('GET', `/api/v4/projects/${p.projectId}/jobs/${jobs[name]!.id}`, {
            token: p.developer.token,
          })
        ).body.status;

      const browser = await launchBrowser();
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${c.url}/users/sign_in`);
      await page.getByLabel('Username or email').fill('dev-app');
      await page.getByLabel('Password').fill('developer-pass-1');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL((u) => !u.pathname.startsWith('/users/sign_in'));

      const deployUrl = `${c.url}/acme/app/-/jobs/${jobs.deploy!.id}`;
      await page.goto(deployUrl);
      const group = page.getByRole('group', { name: 'This job asks for confirmation before it runs' });
      const box = group.getByRole('checkbox', { name: 'Yes, run this job' });
      assert.equal(
        await box.evaluate((element) => {
          const id = element.getAttribute('aria-describedby') ?? '';
          return document.getElementById(id)?.textContent;
        }),
        'Deploy to production?',
      );
      // Unticked, the browser does not send the form.
      await page.getByRole('button', { name: 'Run' }).click();
      assert.equal(page.url(), deployUrl);
      assert.equal(await status('deploy'), 'manual');

      // A form sent without the box (as a page without `required` would): refused, saying why.
      await box.evaluate((element) => element.removeAttribute('required'));
      await page.getByRole('button', { name: 'Run' }).click();
      await page.waitForURL((u) => u.pathname.endsWith('/play'));
      assert.match(await page.content(), /asks for confirmation before it runs: tick the box/);
      assert.equal(await status('deploy'), 'manual');

      await page.goto(deployUrl);
      await page.getByRole('checkbox', { name: 'Yes, run this job' }).check();
      await page.getByRole('button', { name: 'Run' }).click();
      await page.waitForURL(deployUrl);
      assert.equal(await status('deploy'), 'pending');

      // Made manual by its rule: asks with its own text.
      await page.goto(`${c.url}/acme/app/-/jobs/${jobs['by-rule']!.id}`);
      assert.equal(await page.locator('#manual-confirmation').textContent(), 'Really run it?');

      // Without manual_confirmation: Run runs at once.
      const quickUrl = `${c.url}/acme/app/-/jobs/${jobs.quick!.id}`;
      await page.goto(quickUrl);
      assert.equal(await page.getByRole('checkbox').count(), 0);
      await page.getByRole('button', { name: 'Run' }).click();
      await page.waitForURL(quickUrl);
      assert.equal(await status('quick'), 'pending');
    });
  });
}
