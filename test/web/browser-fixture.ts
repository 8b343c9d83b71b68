import { after } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { makeRepository } from '../coordinator/git-fixture.js';
import { type ProjectFixture, setUpProject } from '../coordinator/project-fixture.js';
import { registerRunner, requestJob, type TestJobPayload } from '../coordinator/runner-client.js';
import type { TestCoordinator } from '../server/harness.js';

/** Debian's Chromium (Playwright's own browser download cannot work on CI machines). */
export const CHROMIUM_PATH = process.env.TESSERA_CHROMIUM ?? '/usr/bin/chromium';

/** A headless Chromium for this test file, closed when it ends. */
export async function launchBrowser(): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // Loopback only: no proxy, no background networking.
    args: ['--no-proxy-server', '--disable-background-networking'],
  });
  after(() => browser.close());
  return browser;
}

/** A two-stage pipeline whose second job needs the first. */
export const WEB_PIPELINE = `stages: [build, test]
variables:
  GLOBAL_SETTING: visible-name-only
build:
  stage: build
  script: [echo build]
  id_tokens:
    VAULT_ID_TOKEN:
      aud: https://vault.example.com
test:
  stage: test
  needs: [build]
  variables:
    SECRET_LOOKING: do-not-show
  script: [echo test]
`;

/** The project of {@link WEB_PIPELINE} with passwords for its developer and maintainer. */
export interface WebFixture extends ProjectFixture {
  runnerToken: string;
  passwords: { developer: string; maintainer: string; outsider: string };
}

/** Sets up `acme/app`, passwords for its users and an outsider, and an instance runner. */
export async function setUpWebProject(c: TestCoordinator): Promise<WebFixture> {
  const repo = await makeRepository({ '.gitlab-ci.yml': WEB_PIPELINE });
  const project = await setUpProject(c, repo.path);
  const passwords = {
    developer: 'developer-pass-1',
    maintainer: 'maintainer-pass-1',
    outsider: 'outsider-pass-1',
  };
  await c.api('PUT', `/api/v4/users/${project.developer.id}`, { body: { password: passwords.developer } });
  await c.api('PUT', `/api/v4/users/${project.maintainer.id}`, { body: { password: passwords.maintainer } });
  const outsider = await c.api('POST', '/api/v4/users', {
    body: {
      username: 'outsider',
      email: 'outsider@example.com',
      name: 'Outsider',
      password: passwords.outsider,
    },
  });
  if (outsider.status !== 201) throw new Error(outsider.text);
  const runnerToken = await registerRunner(c);
  return { ...project, runnerToken, passwords };
}

/** Creates a pipeline through the API and claims its first job as the runner. */
export async function startPipeline(
  c: TestCoordinator,
  fixture: WebFixture,
): Promise<{ pipelineId: number; job: TestJobPayload }> {
  const pipeline = await c.api('POST', `/api/v4/projects/${fixture.projectId}/pipeline?ref=main`, {
    token: fixture.developer.token,
  });
  if (pipeline.status !== 201) throw new Error(pipeline.text);
  const job = await requestJob(c, fixture.runnerToken);
  if (!job) throw new Error('no job to claim');
  return { pipelineId: pipeline.body.id, job };
}

/** Appends `text` to a running job's log as the runner does (`PATCH …/trace` with a Content-Range). */
export async function appendTrace(
  c: TestCoordinator,
  job: TestJobPayload,
  offset: number,
  text: string,
): Promise<number> {
  const bytes = Buffer.byteLength(text);
  const answer = await c.api('PATCH', `/api/v4/jobs/${job.id}/trace`, {
    token: null,
    headers: {
      'job-token': job.token,
      'content-range': `${offset}-${offset + bytes - 1}`,
      'content-type': 'text/plain',
    },
    body: text,
  });
  if (answer.status !== 202) throw new Error(`trace: ${answer.status} ${answer.text}`);
  return offset + bytes;
}
