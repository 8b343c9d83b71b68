import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { startTestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { appendTrace, launchBrowser, setUpWebProject, startPipeline } from './browser-fixture.js';

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

/** A line as GitLab Runner writes it with FF_TIMESTAMPS: time, stream, type, ` ` or `+`. */
const stamped = (time: string, marker: string, rest: string) => `2026-12-06T${time}Z ${marker}${rest}\n`;

for (const dialect of testDialects()) {
  describe(`job log timestamps in Chromium [${dialect.name}]`, { skip: dialect.skip }, () => {
    it("shows a running job's line times in a column, live, joins '+' lines and hides them on request", async () => {
      const c = await startTestCoordinator(dialect);
      const fixture = await setUpWebProject(c);
      const { job } = await startPipeline(c, fixture);
      let offset = await appendTrace(
        c,
        job,
        0,
        stamped('05:27:57.000001', '00O ', 'Running with tessera runner 0.1.0') +
          stamped('05:27:58.250000', '01O ', '\u001b[32mcompiled\u001b[0m') +
          stamped('05:27:59.000000', '01O ', 'fetching 50%\r'),
      );
      const browser = await launchBrowser();
      const page = await (await browser.newContext()).newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await signInAs(page, c.url, 'dev-app', fixture.passwords.developer);
      await page.goto(`${c.url}/acme/app/-/jobs/${job.id}`);
      const log = page.locator('#job-log');
      const times = log.locator('time.log-time');
      assert.deepEqual(await times.allInnerTexts(), ['05:27:57', '05:27:58', '05:27:59']);
      assert.equal(await times.nth(1).getAttribute('datetime'), '2026-12-06T05:27:58.250000Z');
      assert.equal(await text(log.locator('.term-fg-green')), 'compiled');
      assert.doesNotMatch(await text(log), /Z 0[01]O/, 'the prefix is not part of the text');
      assert.match(await text(page.locator('#log-bar')), /Timestamps in UTC\./);

      // Live: new lines come with their times; a progress update's rest ('+') takes its line's place.
      // The rest of the line the page came with, then a new progress line.
      offset = await appendTrace(
        c,
        job,
        offset,
        stamped('05:28:00.000000', '01O+', 'fetching 100%') +
          stamped('05:28:01.000000', '01O ', 'downloading 10%\r'),
      );
      await log.getByText('downloading 10%').waitFor({ timeout: 10_000 });
      offset = await appendTrace(
        c,
        job,
        offset,
        stamped('05:28:03.000000', '01O+', 'downloading 100%') +
          stamped('05:28:04.000000', '01E ', 'a warning'),
      );
      await log.getByText('a warning').waitFor({ timeout: 10_000 });
      const lines = await log.locator('.log-line').allInnerTexts();
      // The time is a column of its own (no text between it and the line).
      assert.deepEqual(lines, [
        '05:27:57Running with tessera runner 0.1.0',
        '05:27:58compiled',
        '05:28:00fetching 100%',
        '05:28:03downloading 100%',
        '05:28:04a warning',
      ]);

      // The toggle, from the keyboard: the times go, the text stays.
      const toggle = page.getByRole('button', { name: 'Hide timestamps' });
      await toggle.focus();
      await page.keyboard.press('Enter');
      assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
      assert.equal(await times.first().isVisible(), false);
      assert.match(await text(log), /^Running with tessera runner/);
      await page.keyboard.press('Enter');
      assert.equal(await times.first().isVisible(), true);

      // The raw log keeps the bytes as the runner sent them, as GitLab's raw log and trace API do.
      const raw = await page.request.get(`${c.url}/acme/app/-/jobs/${job.id}/raw`);
      assert.match(await raw.text(), /^2026-12-06T05:27:57\.000001Z 00O Running with/);
      const api = await c.api('GET', `/api/v4/projects/${fixture.projectId}/jobs/${job.id}/trace`, {
        token: fixture.developer.token,
      });
      assert.match(api.text, /\n2026-12-06T05:28:03\.000000Z 01O\+downloading 100%\n/);
      assert.deepEqual(pageErrors, []);
      await browser.close();
    });
  });
}
