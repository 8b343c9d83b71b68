// The environment lifecycle on both dialects, through a real coordinator and its API: deployments
// recorded by start jobs only, on_stop jobs played by the stop API (stopping → stopped), stop jobs
// that fail, auto_stop_in and its sweep (one winner of two), force, protected environments,
// stop_stale, delete, and the deployments API.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { autoStopEnvironments } from '../../src/coordinator/auto-stop-environments.js';
import { finishJob } from '../../src/coordinator/finish-job.js';
import { startTestCoordinator, type TestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { makeRepository } from './git-fixture.js';
import { setUpProject, userWithToken } from './project-fixture.js';
import { registerRunner, requestJob, variable } from './runner-client.js';

const CONFIG = `
stages: [deploy, check]
deploy:
  stage: deploy
  script: [echo deploy]
  environment:
    name: review/$CI_COMMIT_REF_SLUG
    url: https://$CI_ENVIRONMENT_SLUG.example.com
    on_stop: stop
    auto_stop_in: 1 hour
stop:
  stage: deploy
  script: [echo stop]
  when: manual
  id_tokens:
    ID_TOKEN: { aud: https://vault.example.com }
  environment: { name: review/$CI_COMMIT_REF_SLUG, action: stop }
verify:
  stage: check
  script: [echo verify]
  environment: { name: review/$CI_COMMIT_REF_SLUG, action: verify }
prepare:
  stage: check
  script: [echo prepare]
  environment: { name: review/$CI_COMMIT_REF_SLUG, action: prepare }
`;

const HOUR = 3600_000;
const DAY = 24 * HOUR;

/** Runs a pending job to `status` as a runner would, through the coordinator. */
async function runJob(c: TestCoordinator, jobId: number, status: 'success' | 'failed') {
  const coordinator = c.server.coordinator;
  assert.ok(
    await coordinator.repos.jobs.transition(jobId, ['pending'], {
      status: 'running',
      startedAt: coordinator.clock(),
    }),
    `job ${jobId} is pending`,
  );
  await finishJob(coordinator, jobId, { status, exitCode: status === 'success' ? 0 : 1 });
}

async function latestJob(c: TestCoordinator, pipelineId: number, name: string) {
  const job = (await c.server.coordinator.repos.jobs.listStatesByPipeline(pipelineId, true)).find(
    (candidate) => candidate.name === name,
  );
  assert.ok(job, `job ${name}`);
  return job;
}

function decodeClaims(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'));
}

for (const dialect of testDialects()) {
  describe(`environments and deployments [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('deploys, stops through the on_stop job, auto-stops once across two sweeps, and comes back on a new deployment', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      let now = Date.UTC(2026, 0, 5, 12);
      const c = await startTestCoordinator(dialect, {}, { clock: () => now });
      const coordinator = c.server.coordinator;
      const p = await setUpProject(c, repo.path);
      const reporter = await userWithToken(c, 'rep');
      await c.api('POST', `/api/v4/projects/${p.projectId}/members`, {
        body: { user_id: reporter.id, access_level: 20 },
      });
      const reporterToken = reporter.token;
      const api = (method: string, path: string, token = p.developer.token, body?: unknown) =>
        c.api(method, `/api/v4/projects/${p.projectId}${path}`, { token, ...(body ? { body } : {}) });

      const first = await api('POST', '/pipeline', p.developer.token, { ref: 'main' });
      assert.equal(first.status, 201, first.text);
      const environments = await api('GET', '/environments');
      assert.equal(environments.body.length, 1);
      const env = environments.body[0];
      assert.deepEqual(
        [env.name, env.external_url, env.state],
        ['review/main', 'https://review-main.example.com', 'available'],
      );
      assert.equal(env.slug, 'review-main', 'the slug is CI_ENVIRONMENT_SLUG');
      // Created by a job with auto_stop_in: GitLab starts the clock at creation too.
      assert.equal(env.auto_stop_at, new Date(now + HOUR).toISOString());
      // Only the start job deploys: no deployment for stop, verify or prepare.
      let deployments = await api('GET', '/deployments');
      assert.deepEqual(
        deployments.body.map((d: { deployable: { name: string }; status: string }) => [
          d.deployable.name,
          d.status,
        ]),
        [['deploy', 'created']],
      );

      now += 10 * 60_000;
      const deploy = await latestJob(c, first.body.id, 'deploy');
      await runJob(c, deploy.id, 'success');
      let shown = await api('GET', `/environments/${env.id}`, reporterToken);
      assert.equal(shown.status, 200, shown.text);
      assert.equal(shown.body.state, 'available');
      assert.equal(shown.body.auto_stop_at, new Date(now + HOUR).toISOString());
      assert.equal(shown.body.last_deployment.status, 'success');
      assert.equal(shown.body.last_deployment.deployable.id, deploy.id);
      assert.equal(shown.body.last_deployment.user.id, p.developer.id);
      assert.equal(shown.body.last_deployment.ref, 'main');

      // verify changes nothing; prepare renews the stop time with the deployment's auto_stop_in.
      now += 20 * 60_000;
      await runJob(c, (await latestJob(c, first.body.id, 'verify')).id, 'success');
      assert.equal(
        (await api('GET', `/environments/${env.id}`)).body.auto_stop_at,
        new Date(now - 20 * 60_000 + HOUR).toISOString(),
      );
      await runJob(c, (await latestJob(c, first.body.id, 'prepare')).id, 'success');
      assert.equal(
        (await api('GET', `/environments/${env.id}`)).body.auto_stop_at,
        new Date(now + HOUR).toISOString(),
      );

      // A reporter may not stop or delete it; a developer stops it through its on_stop job.
      const refused = await api('POST', `/environments/${env.id}/stop`, reporterToken);
      assert.equal(refused.status, 403, refused.text);
      const stopping = await api('POST', `/environments/${env.id}/stop`);
      assert.equal(stopping.status, 200, stopping.text);
      assert.equal(stopping.body.state, 'stopping');
      assert.equal(stopping.body.auto_stop_at, null);
      const stopJob = await latestJob(c, first.body.id, 'stop');
      assert.equal(stopJob.status, 'pending');
      assert.equal(stopJob.userId, p.developer.id);
      const deleting = await api('DELETE', `/environments/${env.id}`);
      assert.equal(deleting.status, 403, 'only a stopped environment can be deleted');

      // The stop job's variables and ID token say it stops the environment.
      const runnerToken = await registerRunner(c);
      const payload = await requestJob(c, runnerToken);
      assert.equal(payload?.id, stopJob.id);
      assert.equal(variable(payload, 'CI_ENVIRONMENT_ACTION'), 'stop');
      const claims = decodeClaims(variable(payload, 'ID_TOKEN') ?? '');
      assert.deepEqual([claims.environment, claims.environment_action], ['review/main', 'stop']);
      await finishJob(coordinator, stopJob.id, { status: 'success', exitCode: 0 });
      shown = await api('GET', `/environments/${env.id}`);
      assert.equal(shown.body.state, 'stopped');

      // A new deployment (a retry of the deploy job: a new deployment) makes it available again.
      now += HOUR;
      const retried = await api('POST', `/jobs/${deploy.id}/retry`);
      assert.equal(retried.status, 201, retried.text);
      await runJob(c, retried.body.id, 'success');
      shown = await api('GET', `/environments/${env.id}`);
      assert.equal(shown.body.state, 'available');
      assert.equal(shown.body.last_deployment.deployable.id, retried.body.id);
      assert.equal(shown.body.last_deployment.iid, 2);
      const expiry = now + HOUR;
      assert.equal(shown.body.auto_stop_at, new Date(expiry).toISOString());

      // Not yet due: the sweep leaves it. Due: two sweeps at once (two nodes) stop it once, and the
      // stop job that already ran runs again as a new attempt, as its own user.
      assert.equal(await autoStopEnvironments(coordinator), 0);
      now = expiry + 1;
      const swept = await Promise.all([autoStopEnvironments(coordinator), autoStopEnvironments(coordinator)]);
      assert.equal(swept[0] + swept[1], 1);
      assert.equal((await api('GET', `/environments/${env.id}`)).body.state, 'stopping');
      const rerun = await latestJob(c, first.body.id, 'stop');
      assert.notEqual(rerun.id, stopJob.id);
      assert.deepEqual([rerun.status, rerun.userId, rerun.attempt], ['pending', p.developer.id, 1]);

      // A stop job that fails puts the environment back to available; force stops it at once.
      await runJob(c, rerun.id, 'failed');
      assert.equal((await api('GET', `/environments/${env.id}`)).body.state, 'available');
      const forced = await api('POST', `/environments/${env.id}/stop?force=true`);
      assert.equal(forced.body.state, 'stopped');
      assert.equal((await latestJob(c, first.body.id, 'stop')).id, rerun.id, 'force runs no stop job');

      // The deployments list: GitLab's shape, filters, order and pages.
      deployments = await api('GET', '/deployments?order_by=id&sort=desc&per_page=1', reporterToken);
      assert.equal(deployments.status, 200, deployments.text);
      assert.equal(deployments.headers.get('x-total'), '2');
      assert.deepEqual(
        [deployments.body[0].iid, deployments.body[0].status, deployments.body[0].environment.name],
        [2, 'success', 'review/main'],
      );
      const byUpdate = await api('GET', '/deployments?order_by=updated_at&sort=desc');
      assert.deepEqual(
        byUpdate.body.map((d: { iid: number }) => d.iid),
        [2, 1],
      );
      const recent = await api(
        'GET',
        `/deployments?updated_after=${encodeURIComponent(new Date(expiry - HOUR - 1).toISOString())}`,
      );
      assert.deepEqual(
        recent.body.map((d: { iid: number }) => d.iid),
        [2],
      );
      const failedOnes = await api('GET', '/deployments?status=failed');
      assert.deepEqual(failedOnes.body, []);
      const byEnvironment = await api('GET', '/deployments?environment=review%2Fmain&status=success');
      assert.equal(byEnvironment.body.length, 2);
      const one = await api('GET', `/deployments/${deployments.body[0].id}`);
      assert.equal(one.body.deployable.name, 'deploy');
      assert.equal((await api('GET', '/deployments/999999')).status, 404);
      assert.equal((await api('GET', '/deployments?status=bogus')).status, 400);

      // Stopped: it can be deleted, with its deployments.
      assert.equal((await api('DELETE', `/environments/${env.id}`)).status, 204);
      assert.deepEqual((await api('GET', '/deployments')).body, []);
    });

    it('stops an environment without stop jobs at once, keeps protected ones to who may deploy, and stops stale ones', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      let now = Date.UTC(2026, 0, 5, 12);
      const c = await startTestCoordinator(dialect, {}, { clock: () => now });
      const p = await setUpProject(c, repo.path);
      const api = (method: string, path: string, token = p.developer.token, body?: unknown) =>
        c.api(method, `/api/v4/projects/${p.projectId}${path}`, { token, ...(body ? { body } : {}) });

      const plain = await api('POST', '/environments', p.developer.token, { name: 'plain' });
      assert.equal(plain.status, 201, plain.text);
      const stopped = await api('POST', `/environments/${plain.body.id}/stop`);
      assert.equal(stopped.body.state, 'stopped');
      // Stopping again changes nothing (GitLab answers the environment as it is).
      assert.equal((await api('POST', `/environments/${plain.body.id}/stop`)).body.state, 'stopped');

      const guarded = await api('POST', '/environments', p.developer.token, { name: 'production' });
      const protect = await c.api('POST', `/api/v4/projects/${p.projectId}/protected_environments`, {
        body: { name: 'production', deploy_access_levels: [{ access_level: 40 }] },
      });
      assert.equal(protect.status, 201, protect.text);
      const denied = await api('POST', `/environments/${guarded.body.id}/stop`);
      assert.equal(denied.status, 403);
      assert.equal(denied.body.error, 'ERR_ENVIRONMENT_PROTECTED');
      assert.equal((await api('GET', `/environments/${guarded.body.id}`)).body.state, 'available');

      const stale = await api('POST', '/environments', p.developer.token, { name: 'old-review' });
      const tooRecent = await api('POST', '/environments/stop_stale', p.developer.token, {
        before: new Date(now).toISOString(),
      });
      assert.equal(tooRecent.status, 400, 'before must be at least a week ago');
      assert.equal(
        (await api('POST', '/environments/stop_stale', p.developer.token, { before: 'yesterday' })).status,
        400,
      );
      now += 9 * DAY;
      const fresh = await api('POST', '/environments', p.developer.token, { name: 'new-review' });
      const swept = await api(
        'POST',
        `/environments/stop_stale?before=${encodeURIComponent(new Date(now - 8 * DAY).toISOString())}`,
      );
      assert.equal(swept.status, 200, swept.text);
      assert.equal(swept.body.message, 'Successfully requested stop for all stale environments');
      const states = Object.fromEntries(
        (await api('GET', '/environments')).body.map((e: { name: string; state: string }) => [
          e.name,
          e.state,
        ]),
      );
      assert.deepEqual(states, {
        plain: 'stopped',
        production: 'available',
        'old-review': 'stopped',
        'new-review': 'available',
      });
      assert.ok(stale.body.id && fresh.body.id);
      const stoppedOnes = await api('GET', '/environments?states=stopped');
      assert.deepEqual(
        stoppedOnes.body.map((e: { name: string }) => e.name),
        ['plain', 'old-review'],
      );
      const named = await api('GET', '/environments?name=production');
      assert.deepEqual(
        named.body.map((e: { id: number }) => e.id),
        [guarded.body.id],
      );
      assert.equal((await api('GET', '/environments?states=gone')).status, 400);
      // A maintainer may stop the protected one.
      const allowed = await api('POST', `/environments/${guarded.body.id}/stop`, p.maintainer.token);
      assert.equal(allowed.body.state, 'stopped');
    });

    it('keeps the stop time of a deployment without auto_stop_in, and clears it with auto_stop_in: never', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      let now = Date.UTC(2026, 0, 5, 12);
      const c = await startTestCoordinator(dialect, {}, { clock: () => now });
      const p = await setUpProject(c, repo.path);
      const deployWith = async (config: string) => {
        await repo.commit({ '.gitlab-ci.yml': config });
        const created = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline`, {
          token: p.developer.token,
          body: { ref: 'main' },
        });
        assert.equal(created.status, 201, created.text);
        await runJob(c, (await latestJob(c, created.body.id, 'deploy')).id, 'success');
        return (await c.server.coordinator.repos.protection.findEnvironment(p.projectId, 'review/main'))
          ?.autoStopAt;
      };
      assert.equal(await deployWith(CONFIG), now + HOUR);
      const expiry = now + HOUR;
      now += 60_000;
      assert.equal(await deployWith(CONFIG.replace('    auto_stop_in: 1 hour\n', '')), expiry);
      assert.equal(await deployWith(CONFIG.replace('auto_stop_in: 1 hour', 'auto_stop_in: never')), null);

      // Deleting a pipeline deletes its jobs' deployments; deleting the project, every one (admin: owner).
      const deploymentCount = async () =>
        (await c.api('GET', `/api/v4/projects/${p.projectId}/deployments`)).body.length;
      assert.equal(await deploymentCount(), 3);
      const [latest] = (await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines`)).body;
      assert.equal(
        (await c.api('DELETE', `/api/v4/projects/${p.projectId}/pipelines/${latest.id}`)).status,
        204,
      );
      assert.equal(await deploymentCount(), 2);
      assert.equal((await c.api('DELETE', `/api/v4/projects/${p.projectId}`)).status, 202);
      assert.equal(
        await c.server.coordinator.store.db
          .selectFrom('deployments')
          .selectAll()
          .execute()
          .then((rows) => rows.length),
        0,
      );
    });

    it('stops the environments of a branch that a mirror update finds deleted, as the mirror user', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      const c = await startTestCoordinator(dialect, { mirrorInterval: 3600 });
      const p = await setUpProject(c, repo.path);
      const enabled = await c.api('PUT', `/api/v4/projects/${p.projectId}`, {
        token: p.maintainer.token,
        body: { mirror: true, mirror_trigger_builds: true },
      });
      assert.equal(enabled.status, 200, enabled.text);
      const { updateMirror } = await import('../../src/triggers/update-mirror.js');
      const coordinator = c.server.coordinator;
      await updateMirror(coordinator, p.projectId);
      repo.git('checkout', '--quiet', '-b', 'feature');
      await repo.commit({ 'a.txt': 'a' }, 'feature work');
      repo.git('checkout', '--quiet', 'main');
      const pushed = await updateMirror(coordinator, p.projectId);
      const pipelineId = pushed.pipelines.find((entry) => entry.ref === 'feature')?.pipelineId;
      assert.ok(pipelineId, JSON.stringify(pushed));
      await runJob(c, (await latestJob(c, pipelineId, 'deploy')).id, 'success');
      const environment = await coordinator.repos.protection.findEnvironment(p.projectId, 'review/feature');
      assert.equal(environment?.state, 'available');

      repo.git('branch', '--quiet', '-D', 'feature');
      const deleted = await updateMirror(coordinator, p.projectId);
      assert.equal(deleted.error, null);
      assert.equal(
        (await coordinator.repos.protection.findEnvironment(p.projectId, 'review/feature'))?.state,
        'stopping',
      );
      const stop = await latestJob(c, pipelineId, 'stop');
      assert.deepEqual([stop.status, stop.userId], ['pending', p.maintainer.id]);
    });
  });
}
