import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { makeRepository } from '../coordinator/git-fixture.js';
import { setUpProject } from '../coordinator/project-fixture.js';
import { registerRunner, requestJob, variable } from '../coordinator/runner-client.js';
import { startTestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';

const CONFIG = `
nightly:
  script: [echo $TARGET]
  id_tokens:
    ID:
      aud: relying-party
  rules:
    - if: $CI_PIPELINE_SOURCE == "schedule"
on-push:
  script: [echo push]
  rules:
    - if: $CI_PIPELINE_SOURCE == "push"
`;

const HOUR = 3600_000;

for (const dialect of testDialects()) {
  describe(`pipeline schedules [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('fire on time as the owner, once across two nodes, once for all a downtime missed; play runs now', async () => {
      let now = Date.parse('2026-01-05T09:58:00Z');
      const clock = () => now;
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      const a = await startTestCoordinator(dialect, {}, { clock });
      const b = await startTestCoordinator(dialect, {}, { clock, sameStoreAs: a });
      const p = await setUpProject(a, repo.path);
      const runner = await registerRunner(a);
      const base = `/api/v4/projects/${p.projectId}/pipeline_schedules`;
      const pipelines = async () =>
        (await a.api('GET', `/api/v4/projects/${p.projectId}/pipelines`)).body as Array<{
          id: number;
          source: string;
        }>;
      const tickBoth = () =>
        Promise.all([
          a.server.triggerLoop!.tick(),
          b.server.triggerLoop!.tick(),
          a.server.triggerLoop!.tick(),
        ]);

      for (const [body, field] of [
        [{ description: 'x', ref: 'main', cron: '61 * * * *' }, 'cron'],
        [
          { description: 'x', ref: 'main', cron: '0 10 * * *', cron_timezone: 'Mars/Olympus' },
          'cron_timezone',
        ],
      ] as const) {
        const refused = await a.api('POST', base, { token: p.developer.token, body });
        assert.equal(refused.status, 400);
        assert.equal(refused.body.error, 'ERR_SCHEDULE_CRON_INVALID');
        assert.match(refused.body.message, new RegExp(field === 'cron' ? 'minute' : 'time zone'));
      }
      const created = await a.api('POST', base, {
        token: p.developer.token,
        body: { description: 'nightly', ref: 'main', cron: '0 10 * * *', cron_timezone: 'Europe/Berlin' },
      });
      assert.equal(created.status, 201, created.text);
      assert.equal(
        created.body.next_run_at,
        '2026-01-06T09:00:00.000Z',
        '10:00 in Berlin is 09:00 UTC in winter',
      );
      assert.equal(created.body.owner.id, p.developer.id);
      const id = created.body.id;
      const variable1 = await a.api('POST', `${base}/${id}/variables`, {
        token: p.developer.token,
        body: { key: 'TARGET', value: 'staging' },
      });
      assert.equal(variable1.status, 201);
      const changed = await a.api('PUT', `${base}/${id}/variables/TARGET`, {
        token: p.developer.token,
        body: { value: 'production' },
      });
      assert.equal(changed.body.value, 'production');
      const disabled = await a.api('POST', base, {
        token: p.developer.token,
        body: { description: 'off', ref: 'main', cron: '* * * * *', active: false },
      });
      assert.equal(disabled.body.active, false);

      await tickBoth();
      assert.equal((await pipelines()).length, 0, 'nothing is due before next_run_at');
      now = Date.parse('2026-01-06T09:00:30Z');
      await tickBoth();
      let list = await pipelines();
      assert.equal(list.length, 1, 'fired once, though three ticks on two nodes saw it due');
      assert.equal(list[0]!.source, 'schedule');
      const job = await requestJob(a, runner);
      assert.ok(job);
      assert.equal(job.job_info.name, 'nightly', 'rules on $CI_PIPELINE_SOURCE pick the scheduled job');
      assert.equal(variable(job, 'TARGET'), 'production');
      assert.equal(variable(job, 'CI_PIPELINE_SOURCE'), 'schedule');
      assert.equal(variable(job, 'GITLAB_USER_LOGIN'), 'dev-app', 'runs as the owner');
      assert.equal(decodeJwt(variable(job, 'ID') ?? '').pipeline_source, 'schedule');
      let shown = await a.api('GET', `${base}/${id}`, { token: p.developer.token });
      assert.equal(shown.body.next_run_at, '2026-01-07T09:00:00.000Z');
      assert.equal(shown.body.last_pipeline.id, list[0]!.id);
      assert.deepEqual(shown.body.variables, [
        { key: 'TARGET', variable_type: 'env_var', value: 'production' },
      ]);

      // Three days down: one pipeline for all that was missed, next run counted from now.
      now = Date.parse('2026-01-09T15:00:00Z');
      await tickBoth();
      await tickBoth();
      list = await pipelines();
      assert.equal(list.length, 2);
      shown = await a.api('GET', `${base}/${id}`, { token: p.developer.token });
      assert.equal(shown.body.next_run_at, '2026-01-10T09:00:00.000Z');

      // play: now, next_run_at untouched; a maintainer takes ownership; the old owner may no longer edit.
      const played = await a.api('POST', `${base}/${id}/play`, { token: p.developer.token });
      assert.equal(played.status, 201);
      assert.equal((await pipelines()).length, 3);
      assert.equal(
        (await a.api('GET', `${base}/${id}`, { token: p.developer.token })).body.next_run_at,
        '2026-01-10T09:00:00.000Z',
      );
      const taken = await a.api('POST', `${base}/${id}/take_ownership`, { token: p.maintainer.token });
      assert.equal(taken.body.owner.id, p.maintainer.id);
      const notOwner = await a.api('PUT', `${base}/${id}`, {
        token: p.developer.token,
        body: { active: false },
      });
      assert.equal(notOwner.status, 403);
      const runs = await a.api('GET', `${base}/${id}/pipelines`, { token: p.developer.token });
      assert.equal(runs.body.length, 3);
      assert.ok(runs.body.every((pipeline: { source: string }) => pipeline.source === 'schedule'));
      const secondPage = await a.api('GET', `${base}/${id}/pipelines?per_page=2&page=2`, {
        token: p.developer.token,
      });
      assert.equal(secondPage.headers.get('x-total'), '3');
      assert.deepEqual(
        secondPage.body.map((pipeline: { id: number }) => pipeline.id),
        [runs.body[2].id],
      );

      // Switched off: nothing fires, however late it gets.
      const off = await a.api('PUT', `${base}/${id}`, { token: p.maintainer.token, body: { active: false } });
      assert.equal(off.body.active, false);
      now += 30 * 24 * HOUR;
      await tickBoth();
      assert.equal((await pipelines()).length, 3, 'inactive schedules start nothing');
      const listed = await a.api('GET', `${base}?scope=inactive`, { token: p.developer.token });
      assert.equal(listed.body.length, 2);
      assert.equal(
        (await a.api('DELETE', `${base}/${id}/variables/TARGET`, { token: p.maintainer.token })).status,
        200,
      );
      assert.equal((await a.api('DELETE', `${base}/${id}`, { token: p.developer.token })).status, 403);
      assert.equal((await a.api('DELETE', `${base}/${id}`, { token: p.maintainer.token })).status, 204);
      assert.equal((await a.api('GET', `${base}/${id}`, { token: p.developer.token })).status, 404);
    });

    it('keeps inputs (GitLab 17.11), shows them, changes and removes them, and runs with them', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml':
          'spec:\n  inputs:\n    target: { options: [nightly, weekly] }\n    shards: { type: number, default: 1 }\n---\nrun:\n  script: ["echo $[[ inputs.target ]] $[[ inputs.shards ]]"]\n',
      });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const base = `/api/v4/projects/${p.projectId}/pipeline_schedules`;
      const created = await c.api('POST', base, {
        token: p.developer.token,
        body: {
          description: 'nightly',
          ref: 'main',
          cron: '0 1 * * *',
          inputs: [
            { name: 'target', value: 'nightly' },
            { name: 'shards', value: 4 },
          ],
        },
      });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(created.body.inputs, [
        { name: 'target', value: 'nightly' },
        { name: 'shards', value: 4 },
      ]);
      const id = created.body.id;
      const script = async () => {
        assert.equal((await c.api('POST', `${base}/${id}/play`, { token: p.developer.token })).status, 201);
        const runs = await c.api('GET', `${base}/${id}/pipelines`, { token: p.developer.token });
        const newest = Math.max(...runs.body.map((pipeline: { id: number }) => pipeline.id));
        const jobs = await c.server.coordinator.repos.jobs.listByPipeline<{ script: string[] }>(newest);
        return jobs[0]?.spec.script;
      };
      assert.deepEqual(await script(), ['echo nightly 4']);

      const changed = await c.api('PUT', `${base}/${id}`, {
        token: p.developer.token,
        body: {
          inputs: [
            { name: 'target', value: 'weekly' },
            { name: 'shards', _destroy: true },
          ],
        },
      });
      assert.equal(changed.status, 200, changed.text);
      assert.deepEqual(changed.body.inputs, [{ name: 'target', value: 'weekly' }]);
      assert.deepEqual(await script(), ['echo weekly 1']);

      await c.api('PUT', `${base}/${id}`, {
        token: p.developer.token,
        body: { inputs: [{ name: 'target', value: 'daily' }] },
      });
      const refused = await c.api('POST', `${base}/${id}/play`, { token: p.developer.token });
      assert.equal(refused.status, 400, refused.text);
      assert.equal(refused.body.error, 'ERR_PIPELINE_INPUTS_INVALID');
      assert.equal(refused.body.details.input, 'target');
    });
  });
}
