import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { startTestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { appendTrace, launchBrowser, setUpWebProject, startPipeline } from './browser-fixture.js';

/** Saves a screenshot into docs/images/ when TESSERA_WEB_SCREENSHOTS is set (see docs/web-ui.md). */
async function shot(page: Page, name: string): Promise<void> {
  const dir = process.env.TESSERA_WEB_SCREENSHOTS;
  if (!dir) return;
  await page.screenshot({ path: `${dir}/web-${name}.png`, fullPage: false });
}

/** What a person sees of an element (rendered text: cells apart, hidden parts left out). */
function text(locator: Locator): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what the test checks
  return locator.innerText();
}

/** Prefixes each line as GitLab Runner's FF_TIMESTAMPS does, `second` seconds after 2023-11-14T22:13:20Z. */
function stamp(text: string, second: number): string {
  return text.replace(/[^\n]*\n/g, (line) => {
    const time = new Date(Date.UTC(2023, 10, 14, 22, 13, 20 + second)).toISOString().replace('Z', '000Z');
    second += 1;
    return `${time} 01O ${line}`;
  });
}

async function signInAs(page: Page, url: string, login: string, password: string): Promise<void> {
  await page.goto(`${url}/users/sign_in`);
  await page.getByLabel('Username or email').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/users/sign_in'));
}

for (const dialect of testDialects()) {
  describe(`web UI in Chromium [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('signs in, shows projects, pipelines, jobs with a live log, cancels and retries, and the audit', async () => {
      const c = await startTestCoordinator(dialect);
      const fixture = await setUpWebProject(c);
      const { pipelineId, job } = await startPipeline(c, fixture);
      const browser = await launchBrowser();
      const context = await browser.newContext();
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.on('console', (message) => {
        // Script errors and CSP violations; the refusals this test provokes on purpose are no error.
        if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
          pageErrors.push(message.text());
      });

      // Unauthenticated: sent to sign in, and back to the page asked for afterwards.
      await page.goto(`${c.url}/acme/app/-/pipelines/${pipelineId}`);
      assert.equal(new URL(page.url()).pathname, '/users/sign_in');
      await page.getByLabel('Username or email').fill('dev-app');
      await page.getByLabel('Password').fill('wrong password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      assert.match(await text(page.locator('.flash-alert')), /Invalid login or password/);
      await page.getByLabel('Password').fill(fixture.passwords.developer);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${c.url}/acme/app/-/pipelines/${pipelineId}`);
      const cookies = await context.cookies();
      const session = cookies.find((cookie) => cookie.name === '_tessera_session');
      assert.ok(session);
      assert.equal(session.httpOnly, true);
      assert.equal(session.sameSite, 'Lax');

      // Pipeline page: stages, needs, status.
      assert.match(await text(page.locator('h1')), new RegExp(`Pipeline #${pipelineId}`));
      assert.equal(await text(page.getByRole('region', { name: 'Stage build' }).getByRole('link')), 'build');
      assert.match(await text(page.getByRole('region', { name: 'Stage test' })), /needs: build/);
      await shot(page, 'pipeline');

      // Home: the project with its last pipeline's status.
      await page.goto(`${c.url}/`);
      assert.match(await text(page.locator('table')), /acme\/app\s+.*running/);
      await page.getByRole('link', { name: 'acme', exact: true }).click();
      await page.waitForURL(`${c.url}/groups/acme`);
      assert.match(await text(page.locator('h1')), /^acme$/);
      await page.getByRole('link', { name: 'acme/app' }).click();
      assert.match(await text(page.locator('table.pipelines')), /running/);
      await shot(page, 'project');

      // Job page: the log grows without a reload, with colours and a section.
      // Lines as a runner writes them with FF_TIMESTAMPS (its default): time, stream, text.
      let offset = await appendTrace(
        c,
        job,
        0,
        stamp(
          '\u001b[0Ksection_start:1700000000:prepare[collapsed=true]\r\u001b[0KPreparing\nhidden detail\n\u001b[0Ksection_end:1700000003:prepare\r\u001b[0K\n\u001b[32;1mfirst line\u001b[0m\n',
          0,
        ),
      );
      await page.goto(`${c.url}/acme/app/-/jobs/${job.id}`);
      const log = page.locator('#job-log');
      assert.equal(await text(log.locator('.term-fg-green.term-bold')), 'first line');
      assert.equal(await log.locator('details.log-section[data-section=prepare]').getAttribute('open'), null);
      assert.equal(await text(log.locator('.section-duration')), '00:03');
      const jobUrl = page.url();
      offset = await appendTrace(c, job, offset, stamp('second \u001b[31mred\u001b[0m line\n', 4));
      await log.getByText('second red line').waitFor({ timeout: 10_000 });
      assert.equal(await text(log.locator('.term-fg-red')), 'red');
      // Only the new bytes came: nothing shown twice.
      assert.equal(await log.getByText('first line').count(), 1);
      assert.equal(await log.locator('.log-line').count(), 4, 'section header, hidden detail, two lines');
      assert.equal(await text(log.locator('time.log-time').first()), '22:13:20');
      assert.equal(page.url(), jobUrl, 'no reload');
      await shot(page, 'job');
      // The job's variables by name only, and its ID token by audience, kid and jti.
      const variables = await text(page.locator('.variable-names'));
      assert.match(variables, /GLOBAL_SETTING/);
      assert.doesNotMatch(variables, /visible-name-only/);

      // Cancel the running job, then retry it.
      await page.getByRole('button', { name: 'Cancel' }).click();
      await page.waitForURL(jobUrl);
      assert.equal(await page.locator('#job-status').getAttribute('data-status'), 'canceled');
      await page.getByRole('button', { name: 'Retry' }).click();
      await page.waitForURL((u) => u.href !== jobUrl);
      assert.match(await text(page.locator('#job-status')), /pending/);

      // A developer may not read the ID-token audit; a maintainer may.
      const audit = await page.goto(`${c.url}/acme/app/-/id_tokens`);
      assert.equal(audit?.status(), 403);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(`${c.url}/users/sign_in`);
      await signInAs(page, c.url, 'maint-app', fixture.passwords.maintainer);
      await page.goto(`${c.url}/acme/app/-/id_tokens`);
      assert.match(await text(page.locator('table.audit')), /https:\/\/vault\.example\.com/);
      await shot(page, 'id-tokens');
      await page.getByLabel('Audience').fill('no-such-audience');
      await page.getByRole('button', { name: 'Filter' }).click();
      assert.equal(await page.locator('table.audit tbody tr').count(), 0);

      assert.deepEqual(pageErrors, []);
    });

    it('refuses a form without its CSRF token, and hides projects from outsiders (404)', async () => {
      const c = await startTestCoordinator(dialect);
      const fixture = await setUpWebProject(c);
      const { pipelineId } = await startPipeline(c, fixture);
      const browser = await launchBrowser();
      const context = await browser.newContext();
      const page = await context.newPage();
      await signInAs(page, c.url, 'dev-app', fixture.passwords.developer);
      const cookie = (await context.cookies()).find((x) => x.name === '_tessera_session')!;
      const forged = await fetch(`${c.url}/acme/app/-/pipelines/${pipelineId}/cancel`, {
        method: 'POST',
        headers: {
          cookie: `_tessera_session=${cookie.value}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'authenticity_token=forged',
        redirect: 'manual',
      });
      assert.equal(forged.status, 403);
      const pipeline = await c.api('GET', `/api/v4/projects/${fixture.projectId}/pipelines/${pipelineId}`);
      assert.equal(pipeline.body.status, 'running', 'nothing was canceled');
      // Run a pipeline from the project page, with a variable, then cancel it from its page.
      await page.goto(`${c.url}/acme/app`);
      await page.getByText('Run pipeline', { exact: true }).first().click();
      await page.getByLabel('Run for branch or tag').fill('main');
      await page.getByLabel('Variables (one KEY=value per line)').fill('DEPLOY_TARGET=staging');
      await page.getByRole('button', { name: 'Run pipeline' }).click();
      await page.waitForURL(/\/acme\/app\/-\/pipelines\/\d+$/);
      const created = Number(new URL(page.url()).pathname.split('/').pop());
      assert.notEqual(created, pipelineId);
      const stored = await c.api('GET', `/api/v4/projects/${fixture.projectId}/pipelines/${created}`);
      assert.equal(stored.body.source, 'web');
      await page.getByRole('button', { name: 'Cancel pipeline' }).click();
      await page.waitForURL(`${c.url}/acme/app/-/pipelines/${created}`);
      assert.match(await text(page.locator('h1')), /canceled/);
      // The page itself carries a CSP without inline scripts.
      const answer = await page.goto(`${c.url}/acme/app`);
      const csp = answer?.headers()['content-security-policy'] ?? '';
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline/);

      await page.getByRole('button', { name: 'Sign out' }).click();
      await signInAs(page, c.url, 'outsider', fixture.passwords.outsider);
      for (const path of [
        '/acme/app',
        `/acme/app/-/pipelines/${pipelineId}`,
        '/acme/app/-/id_tokens',
        '/acme/app/-/id_tokens/preview',
        '/groups/acme',
      ]) {
        const refused = await page.goto(`${c.url}${path}`);
        assert.equal(refused?.status(), 404, path);
      }
      await page.goto(`${c.url}/`);
      assert.doesNotMatch(await text(page.locator('main')), /acme\/app/, 'not listed either');
      // A wrong API path still answers the API's JSON 404.
      const api = await c.api('GET', '/api/v4/nothing');
      assert.equal(api.body.error, 'ERR_NOT_FOUND');
    });
    it('previews claims against a matching and a refusing Vault role, and lets admins see runners, users and keys', async () => {
      const c = await startTestCoordinator(dialect);
      const fixture = await setUpWebProject(c);
      await c.api('PUT', '/api/v4/users/1', { body: { password: 'root-password-1' } });
      const browser = await launchBrowser();
      const page = await (await browser.newContext()).newPage();
      await signInAs(page, c.url, 'dev-app', fixture.passwords.developer);
      await page.goto(`${c.url}/acme/app`);
      await page.getByRole('link', { name: 'Claim preview' }).click();
      await page.getByLabel('Job', { exact: true }).fill('build');
      const role = {
        bound_audiences: ['https://vault.example.com'],
        bound_claims: { project_path: 'acme/*', ref_protected: 'false' },
        bound_claims_type: 'glob',
        user_claim: 'user_login',
      };
      await page.getByLabel('Vault role JSON (optional)').fill(JSON.stringify({ data: role }));
      await page.getByRole('button', { name: 'Preview claims' }).click();
      assert.equal(await text(page.locator('.vault-verdict')), 'The Vault role would accept this token.');
      assert.match(await text(page.locator('table.claims-table')), /project_path\s+acme\/app/);
      await page.locator('.preview-token').first().scrollIntoViewIfNeeded();
      await page
        .locator('.preview-token h2')
        .first()
        .evaluate((heading) => heading.scrollIntoView());
      await shot(page, 'claim-preview');
      await page
        .getByLabel('Vault role JSON (optional)')
        .fill(JSON.stringify({ ...role, bound_claims: { ref: 'release-*' } }));
      await page.getByRole('button', { name: 'Preview claims' }).click();
      assert.equal(await text(page.locator('.vault-verdict')), 'The Vault role would refuse this token.');
      assert.match(
        await text(page.locator('tr.check-failed')),
        /ref[\s\S]*main[\s\S]*release-\*[\s\S]*bound claim "ref" is "main" in the token, which does not match "release-\*"/,
      );
      // Admin pages are not there for a developer.
      assert.equal((await page.goto(`${c.url}/admin/keys`))?.status(), 404);

      await page.getByRole('button', { name: 'Sign out' }).click();
      await signInAs(page, c.url, 'root', 'root-password-1');
      await page.goto(`${c.url}/admin/runners`);
      assert.match(await text(page.locator('table')), /offline/);
      await page.goto(`${c.url}/admin/users`);
      assert.match(await text(page.locator('table')), /outsider/);
      await page.goto(`${c.url}/admin/keys`);
      const before = await c.api('GET', '/api/v4/admin/signing_keys');
      const current = before.body.find(
        (key: { state: string; alg: string }) => key.state === 'current' && key.alg === 'RS256',
      ).kid as string;
      // Without the confirmation, the server refuses (even if the browser's check is bypassed).
      const unconfirmed = await page.evaluate(async () => {
        const form = document.querySelector<HTMLFormElement>('form[action="/admin/keys/rotate"]')!;
        const data = new URLSearchParams();
        data.set(
          'authenticity_token',
          (form.elements.namedItem('authenticity_token') as HTMLInputElement).value,
        );
        return (await fetch('/admin/keys/rotate', { method: 'POST', body: data })).status;
      });
      assert.equal(unconfirmed, 400);
      await page.getByLabel(/The next key starts signing now/).check();
      // The next key was published just now: the rotation is refused unless forced.
      await page.getByRole('button', { name: 'Rotate signing key' }).click();
      assert.match(await text(page.getByRole('alert')), /less than the JWKS cache period/);
      await page.getByLabel(/The next key starts signing now/).check();
      await page.getByLabel(/Rotate even if/).check();
      await page.getByRole('button', { name: 'Rotate signing key' }).click();
      assert.match(await text(page.locator('[role=status]')), /Rotated RS256/);
      const after = await c.api('GET', '/api/v4/admin/signing_keys');
      assert.equal(after.body.find((key: { kid: string }) => key.kid === current).state, 'previous');
      await shot(page, 'keys');
    });
    it('works from the keyboard, fits a phone screen and follows a dark system theme', async () => {
      const c = await startTestCoordinator(dialect);
      const fixture = await setUpWebProject(c);
      const { pipelineId } = await startPipeline(c, fixture);
      const browser = await launchBrowser();
      const phone = await browser.newContext({ viewport: { width: 375, height: 740 }, colorScheme: 'dark' });
      const page = await phone.newPage();
      await page.goto(`${c.url}/users/sign_in`);
      // The login field takes the focus (autofocus; on a loaded machine only once the page has
      // settled); type, Tab to the password, Enter submits.
      await page.waitForFunction(() => document.activeElement?.id === 'user_login');
      await page.keyboard.type('dev-app');
      await page.keyboard.press('Tab');
      await page.keyboard.type(fixture.passwords.developer);
      await page.keyboard.press('Enter');
      await page.waitForURL(`${c.url}/`);
      // Tab from the top: the skip link first, then on to the project link, followed with Enter.
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
      let reached = false;
      for (let i = 0; i < 10 && !reached; i++) {
        await page.keyboard.press('Tab');
        reached = (await page.evaluate(() => document.activeElement?.textContent)) === 'acme/app';
      }
      assert.ok(reached, 'the project link is reachable with Tab');
      await page.keyboard.press('Enter');
      await page.waitForURL(`${c.url}/acme/app`);
      await page.goto(`${c.url}/acme/app/-/pipelines/${pipelineId}`);
      // Nothing wider than the phone's screen but the tables' own scrolling boxes.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);
      const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.equal(dark, 'rgb(24, 23, 29)');
      await shot(page, 'phone-dark');
      const light = await (await browser.newContext({ colorScheme: 'light' })).newPage();
      await light.goto(`${c.url}/users/sign_in`);
      assert.equal(
        await light.evaluate(() => getComputedStyle(document.body).backgroundColor),
        'rgb(255, 255, 255)',
      );
    });
  });
}
