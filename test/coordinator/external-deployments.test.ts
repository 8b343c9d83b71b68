// GitLab's deployments write API on both dialects, through a real coordinator and its HTTP API:
// deployments made by an external tool (no job) are created, moved through their statuses and
// deleted under GitLab's rules, beside a job's deployment whose status stays its job's; they count
// as environments' last_deployment, in the list's filters and order, in stop_stale, and a protected
// environment asks for its deploy access level.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { autoStopEnvironments } from '../../src/coordinator/auto-stop-environments.js';
import { finishJob } from '../../src/coordinator/finish-job.js';
import { startTestCoordinator, type TestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { makeRepository } from './git-fixture.js';
import { setUpProject, userWithToken } from './project-fixture.js';

const CONFIG = `
deploy:
  script: [echo deploy]
  environment: { name: production }
`;

const WITH_STOP = `
deploy:
  script: [echo deploy]
  environment: { name: review, on_stop: stop, auto_stop_in: 1 hour }
stop:
  script: [echo stop]
  when: manual
  environment: { name: review, action: stop }
`;

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const SHA = 'c0ffee'.padEnd(40, '0');

/** Runs a pending job to success as a runner would, through the coordinator. */
async function runJob(c: TestCoordinator, jobId: number) {
  const coordinator = c.server.coordinator;
  assert.ok(
    await coordinator.repos.jobs.transition(jobId, ['pending'], {
      status: 'running',
      startedAt: coordinator.clock(),
    }),
    `job ${jobId} is pending`,
  );
  await finishJob(coordinator, jobId, { status: 'success', exitCode: 0 });
}

for (const dialect of testDialects()) {
  describe(`deployments made through the API [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('creates, updates and deletes job-less deployments as GitLab, and leaves job deployments to their jobs', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      let now = Date.UTC(2026, 0, 5, 12);
      const c = await startTestCoordinator(dialect, {}, { clock: () => now });
      const p = await setUpProject(c, repo.path);
      const reporter = await userWithToken(c, 'rep');
      await c.api('POST', `/api/v4/projects/${p.projectId}/members`, {
        body: { user_id: reporter.id, access_level: 20 },
      });
      const reporterToken = reporter.token;
      const api = (method: string, path: string, token = p.developer.token, body?: unknown) =>
        c.api(method, `/api/v4/projects/${p.projectId}${path}`, { token, ...(body ? { body } : {}) });

      // A job's deployment, finished: production's last deployment.
      const pipeline = await api('POST', '/pipeline', p.developer.token, { ref: 'main' });
      assert.equal(pipeline.status, 201, pipeline.text);
      const deploys = await api('GET', '/deployments');
      const jobDeployment = deploys.body[0];
      await runJob(c, jobDeployment.deployable.id);

      // Who may not, and what is not a deployment.
      const good = { environment: 'staging', sha: SHA, ref: 'v1.0', tag: true, status: 'running' };
      const denied = await api('POST', '/deployments', reporterToken, good);
      assert.equal(denied.status, 403, denied.text);
      assert.equal(denied.body.error, 'ERR_FORBIDDEN');
      for (const [body, field] of [
        [{ ...good, tag: undefined }, 'body.tag'],
        [{ ...good, status: 'created' }, 'body.status'],
        [{ ...good, environment: 'bad;name' }, 'body.environment'],
        [{ ...good, sha: '' }, 'body.sha'],
        [{ ...good, ref: undefined }, 'body.ref'],
      ] as const) {
        const refused = await api('POST', '/deployments', p.developer.token, body);
        assert.equal(refused.status, 400, refused.text);
        assert.equal(refused.body.error, 'ERR_VALIDATION');
        assert.equal(refused.body.details.field, field);
      }
      assert.deepEqual(
        (await api('GET', '/environments')).body.map((e: { name: string }) => e.name),
        ['production'],
        'refused requests create no environment',
      );

      // A running deployment to a new environment: the environment is created, the deployer is the caller.
      now += HOUR;
      const created = await api('POST', '/deployments', p.developer.token, good);
      assert.equal(created.status, 201, created.text);
      const external = created.body;
      assert.deepEqual(
        [external.iid, external.status, external.ref, external.sha, external.deployable, external.user.id],
        [2, 'running', 'v1.0', SHA, null, p.developer.id],
      );
      assert.deepEqual(
        [external.created_at, external.updated_at, external.finished_at],
        [new Date(now).toISOString(), new Date(now).toISOString(), null],
      );
      assert.equal(external.environment.name, 'staging');
      const staging = (await api('GET', '/environments?name=staging')).body[0];
      assert.deepEqual(
        [staging.id, staging.state, staging.tier],
        [external.environment.id, 'available', 'staging'],
      );
      assert.equal(staging.updated_at, new Date(now).toISOString());
      const shown = await api('GET', `/deployments/${external.id}`, reporterToken);
      assert.deepEqual(shown.body, external);

      // The list filters and orders job-less deployments by their own status and times.
      const running = await api('GET', '/deployments?status=running');
      assert.deepEqual(
        running.body.map((d: { id: number }) => d.id),
        [external.id],
      );
      const successes = await api('GET', '/deployments?status=success');
      assert.deepEqual(
        successes.body.map((d: { id: number }) => d.id),
        [jobDeployment.id],
      );
      assert.deepEqual(
        (await api('GET', '/deployments?environment=staging')).body.map((d: { id: number }) => d.id),
        [external.id],
      );

      // running only follows created; a deployment that runs cannot be deleted; only a maintainer deletes.
      const again = await api('PUT', `/deployments/${external.id}`, p.developer.token, { status: 'running' });
      assert.equal(again.status, 400, again.text);
      assert.equal(again.body.error, 'ERR_DEPLOYMENT_STATUS_TRANSITION');
      const notYours = await api('DELETE', `/deployments/${external.id}`);
      assert.equal(notYours.status, 403, notYours.text);
      const stillRunning = await api('DELETE', `/deployments/${external.id}`, p.maintainer.token);
      assert.equal(stillRunning.status, 400, stillRunning.text);
      assert.equal(stillRunning.body.error, 'ERR_DEPLOYMENT_RUNNING');
      assert.match(stillRunning.body.message, /^Cannot destroy running deployment/);
      assert.equal(
        (await api('PUT', `/deployments/${external.id}`, reporterToken, { status: 'success' })).status,
        403,
      );
      assert.equal(
        (await api('PUT', `/deployments/${external.id}`, p.developer.token, { status: 'done' })).body.error,
        'ERR_VALIDATION',
      );
      assert.equal(
        (await api('PUT', '/deployments/999999', p.developer.token, { status: 'success' })).status,
        404,
      );

      // It succeeds: finished, and the environment's last deployment.
      now += HOUR;
      const succeeded = await api('PUT', `/deployments/${external.id}`, p.developer.token, {
        status: 'success',
      });
      assert.equal(succeeded.status, 200, succeeded.text);
      assert.deepEqual(
        [succeeded.body.status, succeeded.body.finished_at, succeeded.body.updated_at],
        ['success', new Date(now).toISOString(), new Date(now).toISOString()],
      );
      const stagingNow = await api('GET', `/environments/${staging.id}`);
      assert.equal(stagingNow.body.last_deployment.id, external.id);
      assert.equal(stagingNow.body.last_deployment.deployable, null);
      assert.equal(stagingNow.body.last_deployment.user.id, p.developer.id);
      const twice = await api('PUT', `/deployments/${external.id}`, p.developer.token, { status: 'success' });
      assert.equal(twice.body.error, 'ERR_DEPLOYMENT_STATUS_TRANSITION');
      const byUpdate = await api('GET', '/deployments?order_by=updated_at&sort=desc');
      assert.deepEqual(
        byUpdate.body.map((d: { id: number }) => d.id),
        [external.id, jobDeployment.id],
      );
      const recent = await api(
        'GET',
        `/deployments?updated_after=${encodeURIComponent(new Date(now - 1).toISOString())}`,
      );
      assert.deepEqual(
        recent.body.map((d: { id: number }) => d.id),
        [external.id],
      );

      // A job's deployment follows its job: GitLab's 403.
      const jobOwned = await api('PUT', `/deployments/${jobDeployment.id}`, p.developer.token, {
        status: 'failed',
      });
      assert.equal(jobOwned.status, 403, jobOwned.text);
      assert.equal(jobOwned.body.error, 'ERR_DEPLOYMENT_HAS_JOB');
      assert.match(
        jobOwned.body.message,
        /^Deployments created using GitLab CI can not be updated using the API/,
      );

      // The last deployment of an environment cannot be deleted, whether a job's or not.
      for (const id of [external.id, jobDeployment.id]) {
        const last = await api('DELETE', `/deployments/${id}`, p.maintainer.token);
        assert.equal(last.status, 400, last.text);
        assert.equal(last.body.error, 'ERR_DEPLOYMENT_LAST');
        assert.match(last.body.message, /^Deployment currently deployed to environment/);
      }

      // A stopped environment comes back with a successful job-less deployment, which takes over
      // as the last one: the job's deployment can go now.
      const production = (await api('GET', '/environments?name=production')).body[0];
      assert.equal(
        (await api('POST', `/environments/${production.id}/stop?force=true`)).body.state,
        'stopped',
      );
      now += HOUR;
      const redeployed = await api('POST', '/deployments', p.developer.token, {
        environment: 'production',
        sha: SHA,
        ref: 'main',
        tag: false,
        status: 'success',
      });
      assert.equal(redeployed.status, 201, redeployed.text);
      assert.equal(redeployed.body.finished_at, new Date(now).toISOString());
      const productionNow = (await api('GET', `/environments/${production.id}`)).body;
      assert.equal(productionNow.state, 'available');
      assert.equal(productionNow.last_deployment.id, redeployed.body.id);
      assert.equal((await api('DELETE', `/deployments/${jobDeployment.id}`, p.maintainer.token)).status, 204);
      assert.equal((await api('GET', `/deployments/${jobDeployment.id}`)).status, 404);
      assert.equal((await api('DELETE', `/deployments/${jobDeployment.id}`, p.maintainer.token)).status, 404);

      // A failed deployment that is not the last can be deleted.
      const failed = await api('POST', '/deployments', p.developer.token, { ...good, status: 'failed' });
      assert.equal(failed.body.status, 'failed');
      assert.equal((await api('DELETE', `/deployments/${failed.body.id}`, p.maintainer.token)).status, 204);
      assert.deepEqual(
        (await api('GET', '/deployments?sort=asc')).body.map((d: { id: number }) => d.id),
        [external.id, redeployed.body.id],
      );
    });

    it('asks for a protected environment’s deploy access level, and counts job-less deployments in stop_stale', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      let now = Date.UTC(2026, 0, 5, 12);
      const c = await startTestCoordinator(dialect, {}, { clock: () => now });
      const p = await setUpProject(c, repo.path);
      const api = (method: string, path: string, token = p.developer.token, body?: unknown) =>
        c.api(method, `/api/v4/projects/${p.projectId}${path}`, { token, ...(body ? { body } : {}) });
      const deployment = { sha: SHA, ref: 'main', tag: false };

      const running = await api('POST', '/deployments', p.developer.token, {
        ...deployment,
        environment: 'prod',
        status: 'running',
      });
      assert.equal(running.status, 201, running.text);
      const protect = await c.api('POST', `/api/v4/projects/${p.projectId}/protected_environments`, {
        body: { name: 'prod', deploy_access_levels: [{ access_level: 40 }] },
      });
      assert.equal(protect.status, 201, protect.text);
      const guarded = await c.api('POST', `/api/v4/projects/${p.projectId}/protected_environments`, {
        body: { name: 'vault', deploy_access_levels: [{ access_level: 40 }] },
      });
      assert.equal(guarded.status, 201, guarded.text);
      for (const environment of ['prod', 'vault']) {
        const refused = await api('POST', '/deployments', p.developer.token, {
          ...deployment,
          environment,
          status: 'success',
        });
        assert.equal(refused.status, 403, refused.text);
        assert.equal(refused.body.error, 'ERR_ENVIRONMENT_PROTECTED');
      }
      assert.equal(
        (await api('GET', '/environments?name=vault')).body.length,
        0,
        'a refused deployment creates no environment',
      );
      const update = await api('PUT', `/deployments/${running.body.id}`, p.developer.token, {
        status: 'success',
      });
      assert.equal(update.status, 403, update.text);
      assert.equal(update.body.error, 'ERR_ENVIRONMENT_PROTECTED');
      assert.equal((await api('GET', `/deployments/${running.body.id}`)).body.status, 'running');
      const allowed = await api('PUT', `/deployments/${running.body.id}`, p.maintainer.token, {
        status: 'success',
      });
      assert.equal(allowed.body.status, 'success');
      const vault = await api('POST', '/deployments', p.maintainer.token, {
        ...deployment,
        environment: 'vault',
        status: 'success',
      });
      assert.equal(vault.status, 201, vault.text);

      // stop_stale: an environment last changed long ago but deployed to (without a job) recently stays.
      const quiet = await api('POST', '/environments', p.developer.token, { name: 'quiet' });
      const busy = await api('POST', '/environments', p.developer.token, { name: 'busy' });
      assert.equal(busy.status, 201, busy.text);
      now += 15 * DAY;
      // As GitLab's documentation sends it: `curl --data "environment=…&tag=false&…"`.
      const recent = await c.api('POST', `/api/v4/projects/${p.projectId}/deployments`, {
        token: p.developer.token,
        form: { environment: 'busy', sha: SHA, ref: 'main', tag: 'false', status: 'success' },
      });
      assert.equal(recent.status, 201, recent.text);
      assert.equal(recent.body.status, 'success');
      now += 5 * DAY;
      const swept = await api(
        'POST',
        `/environments/stop_stale?before=${encodeURIComponent(new Date(now - 10 * DAY).toISOString())}`,
      );
      assert.equal(swept.status, 200, swept.text);
      const states = Object.fromEntries(
        (await api('GET', '/environments')).body.map((e: { name: string; state: string }) => [
          e.name,
          e.state,
        ]),
      );
      assert.deepEqual(states, {
        prod: 'available',
        vault: 'available',
        quiet: 'stopped',
        busy: 'available',
      });
      assert.ok(quiet.body.id);
    });

    it('runs no stop job of an older pipeline when the last deployment to finish was made through the API', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': WITH_STOP });
      let now = Date.UTC(2026, 0, 5, 12);
      const c = await startTestCoordinator(dialect, {}, { clock: () => now });
      const p = await setUpProject(c, repo.path);
      const api = (method: string, path: string, token = p.developer.token, body?: unknown) =>
        c.api(method, `/api/v4/projects/${p.projectId}${path}`, { token, ...(body ? { body } : {}) });
      const pipeline = await api('POST', '/pipeline', p.developer.token, { ref: 'main' });
      assert.equal(pipeline.status, 201, pipeline.text);
      const jobs = await c.server.coordinator.repos.jobs.listStatesByPipeline(pipeline.body.id, true);
      const deploy = jobs.find((job) => job.name === 'deploy');
      const stop = jobs.find((job) => job.name === 'stop');
      assert.ok(deploy && stop);
      await runJob(c, deploy.id);
      const review = (await api('GET', '/environments?name=review')).body[0];
      assert.equal(review.auto_stop_at, new Date(now + HOUR).toISOString());

      // An external tool deploys to it later: the last deployment, which sets no stop time.
      now += 10 * 60_000;
      const external = await api('POST', '/deployments', p.developer.token, {
        environment: 'review',
        sha: SHA,
        ref: 'main',
        tag: false,
        status: 'success',
      });
      assert.equal(external.status, 201, external.text);
      const shown = (await api('GET', `/environments/${review.id}`)).body;
      assert.equal(shown.last_deployment.id, external.body.id);
      assert.equal(shown.auto_stop_at, review.auto_stop_at);

      // Due: the sweep stops it at once, and the older pipeline's stop job stays unplayed (GitLab's
      // stop jobs come from the last finished deployment's pipeline, and this one has none).
      now += HOUR;
      assert.equal(await autoStopEnvironments(c.server.coordinator), 1);
      assert.equal((await api('GET', `/environments/${review.id}`)).body.state, 'stopped');
      assert.equal((await c.server.coordinator.repos.jobs.findById(stop.id))?.status, 'manual');
    });
  });
}
