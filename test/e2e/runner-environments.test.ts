// End to end: a real `tessera serve` process and a real `tessera runner` process run a review app's
// life: a deploy job with on_stop and auto_stop_in, a stop through the API that runs the stop job,
// the periodic auto-stop sweep, a redeploy that makes the environment available again, and a
// Reporter refused.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeRepository } from '../runner/git-repository.js';
import { useServeAndRunner, waitFor } from './runner-harness.js';

// The jobs write markers on the host, which a sandbox would hide.
const SHELL = ['--executor', 'shell'];

const { root, coordinator } = useServeAndRunner('environments', { runnerArgs: SHELL });

interface Environment {
  id: number;
  name: string;
  state: string;
  external_url: string | null;
  auto_stop_at: string | null;
  last_deployment: { status: string; deployable: { id: number; name: string } } | null;
}

describe('environments end to end', () => {
  it('deploys, stops through the stop job, auto-stops through the sweep, redeploys, and refuses a reporter', async () => {
    const log = join(root, 'lifecycle.log');
    const dir = join(root, 'repos', 'review');
    makeRepository(dir, {
      '.gitlab-ci.yml': `
variables:
  LOG: ${log}
deploy:
  stage: deploy
  script: ['echo "deploy $CI_ENVIRONMENT_NAME $CI_ENVIRONMENT_URL" >> "$LOG"']
  environment:
    name: review/$CI_COMMIT_REF_SLUG
    url: https://$CI_ENVIRONMENT_SLUG.example.com
    on_stop: stop
    auto_stop_in: 8 seconds
stop:
  stage: deploy
  when: manual
  script: ['echo "stop $CI_ENVIRONMENT_NAME $CI_ENVIRONMENT_ACTION $CI_JOB_ID" >> "$LOG"']
  environment: { name: review/$CI_COMMIT_REF_SLUG, action: stop }
`,
    });
    const projectId = await coordinator.createProject('review', dir);
    const environmentsPath = `/projects/${projectId}/environments`;
    const environment = async (id: number) => coordinator.ok<Environment>('GET', `${environmentsPath}/${id}`);
    const lines = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []);

    const first = await coordinator.createPipeline(projectId);
    await coordinator.waitForJob(projectId, first.id, 'deploy', ['success']);
    const [listed] = await coordinator.ok<Environment[]>('GET', environmentsPath);
    assert.ok(listed);
    let env = await environment(listed.id);
    assert.equal(env.name, 'review/main');
    assert.equal(env.external_url, 'https://review-main.example.com');
    assert.equal(env.last_deployment?.status, 'success');
    assert.deepEqual(lines(), ['deploy review/main https://review-main.example.com']);

    // A reporter may read the environment but not stop it.
    const reporter = await coordinator.ok<{ id: number }>('POST', '/users', {
      username: 'reporter',
      email: 'reporter@example.com',
      name: 'Reporter',
    });
    await coordinator.ok('POST', `/projects/${projectId}/members`, {
      user_id: reporter.id,
      access_level: 20,
    });
    const token = await coordinator.ok<{ token: string }>(
      'POST',
      `/users/${reporter.id}/personal_access_tokens`,
      {
        name: 'reporter',
        scopes: ['api'],
      },
    );
    const asReporter = (method: string, path: string) =>
      fetch(`${coordinator.url}/api/v4${path}`, { method, headers: { 'private-token': token.token } });
    assert.equal((await asReporter('GET', `${environmentsPath}/${env.id}`)).status, 200);
    assert.equal((await asReporter('POST', `${environmentsPath}/${env.id}/stop`)).status, 403);

    // The stop API plays the stop job; the environment is stopping until it succeeds.
    const stopping = await coordinator.ok<Environment>('POST', `${environmentsPath}/${env.id}/stop`);
    assert.equal(stopping.state, 'stopping');
    const stopJob = await coordinator.waitForJob(projectId, first.id, 'stop', ['success']);
    env = await waitFor(async () => {
      const now = await environment(listed.id);
      return now.state === 'stopped' ? now : undefined;
    }, 'the environment to be stopped');
    assert.equal(env.auto_stop_at, null);
    assert.equal(lines()[1], `stop review/main stop ${stopJob.id}`);

    // A new pipeline deploys again: available, with a stop time 8 s on; the serve process's sweep
    // (every 5 s) then stops it by running the new pipeline's stop job.
    const second = await coordinator.createPipeline(projectId);
    await coordinator.waitForJob(projectId, second.id, 'deploy', ['success']);
    env = await environment(listed.id);
    assert.equal(env.state, 'available');
    assert.ok(env.auto_stop_at !== null);
    const autoStop = await coordinator.waitForJob(projectId, second.id, 'stop', ['success'], 60_000);
    await waitFor(
      async () => ((await environment(listed.id)).state === 'stopped' ? true : undefined),
      'the sweep to stop the environment',
    );
    assert.deepEqual(lines().slice(2), [
      'deploy review/main https://review-main.example.com',
      `stop review/main stop ${autoStop.id}`,
    ]);

    const deployments = await coordinator.ok<Array<{ iid: number; status: string }>>(
      'GET',
      `/projects/${projectId}/deployments`,
    );
    assert.deepEqual(
      deployments.map((deployment) => [deployment.iid, deployment.status]),
      [
        [1, 'success'],
        [2, 'success'],
      ],
    );
  });
});
