import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeRepository } from '../coordinator/git-fixture.js';
import { setUpProject } from '../coordinator/project-fixture.js';
import { registerRunner, requestJob } from '../coordinator/runner-client.js';
import { testDialects } from '../store/dialects.js';
import { startTestCoordinator } from './harness.js';

const CONFIG = 'build:\n  script: [echo build]\n';

for (const dialect of testDialects()) {
  describe(`runners API [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('gives a paused runner no job (204 at once) until it is resumed with PUT /runners/:id', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      // A long wait: a paused runner must be answered at once, not at the end of it.
      const c = await startTestCoordinator(dialect, { jobRequestWait: 30 });
      const p = await setUpProject(c, repo.path);
      const created = await c.api('POST', '/api/v4/user/runners', {
        body: { runner_type: 'instance_type', paused: true },
      });
      assert.equal(created.status, 201);
      const token: string = created.body.token;
      const shown = await c.api('GET', `/api/v4/runners/${created.body.id}`);
      assert.equal(shown.body.paused, true);
      assert.equal(shown.body.active, false);
      await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, { token: p.developer.token });
      assert.equal(await requestJob(c, token), null, 'a paused runner gets 204');
      const resumed = await c.api('PUT', `/api/v4/runners/${created.body.id}`, { body: { paused: false } });
      assert.equal(resumed.status, 200);
      assert.equal(resumed.body.paused, false);
      assert.equal((await requestJob(c, token))?.job_info.name, 'build');
      // The deprecated `active` is GitLab's inverse of `paused`.
      const paused = await c.api('PUT', `/api/v4/runners/${created.body.id}`, { body: { active: false } });
      assert.equal(paused.body.paused, true);
    });

    it('hands a ref_protected runner only jobs of protected refs', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      repo.git('branch', 'feature');
      const c = await startTestCoordinator(dialect, { jobRequestWait: 0 });
      const p = await setUpProject(c, repo.path);
      await c.api('POST', `/api/v4/projects/${p.projectId}/protected_branches`, {
        body: { name: 'main', push_access_level: 30 },
      });
      const deploy = await c.api('POST', '/api/v4/user/runners', {
        body: { runner_type: 'project_type', project_id: p.projectId, access_level: 'ref_protected' },
      });
      assert.equal(deploy.body.id > 0, true);
      assert.equal(
        (await c.api('GET', `/api/v4/runners/${deploy.body.id}`)).body.access_level,
        'ref_protected',
      );
      await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=feature`, {
        token: p.developer.token,
      });
      assert.equal(await requestJob(c, deploy.body.token), null, 'no job of an unprotected branch');
      await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, { token: p.developer.token });
      const job = await requestJob(c, deploy.body.token);
      assert.equal(job?.git_info.ref, 'main');
      // The job of the unprotected branch is still there for a runner of any ref.
      const any = await registerRunner(c);
      assert.equal((await requestJob(c, any))?.git_info.ref, 'feature');
    });

    it('refuses a runner field it does not implement, naming it', async () => {
      const c = await startTestCoordinator(dialect);
      for (const field of ['locked', 'maintenance_note']) {
        const answer = await c.api('POST', '/api/v4/user/runners', {
          body: { runner_type: 'instance_type', [field]: field === 'locked' ? true : 'note' },
        });
        assert.equal(answer.status, 400);
        assert.equal(answer.body.error, 'ERR_VALIDATION');
        assert.equal(answer.body.details.field, `body.${field}`);
        assert.match(answer.body.message, new RegExp(`body\\.${field} is not supported`));
      }
      const runner = await c.api('POST', '/api/v4/user/runners', { body: { runner_type: 'instance_type' } });
      const update = await c.api('PUT', `/api/v4/runners/${runner.body.id}`, { body: { locked: true } });
      assert.equal(update.status, 400);
      assert.equal(update.body.details.field, 'body.locked');
    });

    it("lists a user's own runners with GitLab's filters, and every runner for an admin", async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const mine = await c.api('POST', '/api/v4/user/runners', {
        token: p.maintainer.token,
        body: { runner_type: 'project_type', project_id: p.projectId, tag_list: 'linux, docker' },
      });
      assert.equal(mine.status, 201);
      const pausedOne = await c.api('POST', '/api/v4/user/runners', {
        token: p.maintainer.token,
        body: { runner_type: 'project_type', project_id: p.projectId, paused: true, tag_list: ['linux'] },
      });
      await registerRunner(c);
      const ids = (answer: { body: Array<{ id: number }> }) => answer.body.map((runner) => runner.id);
      const list = (query: string, token = p.maintainer.token) =>
        c.api('GET', `/api/v4/runners${query}`, { token });
      assert.deepEqual(ids(await list('')), [mine.body.id, pausedOne.body.id], 'no instance runner');
      assert.deepEqual(ids(await list('?paused=true')), [pausedOne.body.id]);
      assert.deepEqual(ids(await list('?scope=active')), [mine.body.id]);
      assert.deepEqual(ids(await list('?tag_list=linux,docker')), [mine.body.id]);
      assert.deepEqual(ids(await list('?type=group_type')), []);
      assert.deepEqual(ids(await list('?status=never_contacted')), [mine.body.id, pausedOne.body.id]);
      assert.deepEqual(ids(await list('', p.developer.token)), [], 'a developer owns no runner');
      assert.equal((await list('?scope=shared')).status, 400, 'shared is a scope of /runners/all');
      const all = await c.api('GET', '/api/v4/runners/all?type=instance_type');
      assert.equal(all.body.length, 1);
      const second = await c.api('GET', '/api/v4/runners/all?per_page=2&page=2');
      assert.equal(second.body.length, 1, 'three runners, two a page');
      assert.deepEqual(
        ['x-page', 'x-per-page', 'x-total', 'x-total-pages', 'x-prev-page'].map((name) =>
          second.headers.get(name),
        ),
        ['2', '2', '3', '2', '1'],
      );
      assert.equal((await c.api('GET', '/api/v4/runners/all', { token: p.maintainer.token })).status, 403);
      // A developer may not change or delete the project's runners; the maintainer may.
      const forbidden = await c.api('PUT', `/api/v4/runners/${mine.body.id}`, {
        token: p.developer.token,
        body: { paused: true },
      });
      assert.equal(forbidden.status, 403);
      // A group runner belongs to the group's Owners, as in GitLab: a Maintainer may not create one.
      const groupRunner = await c.api('POST', '/api/v4/user/runners', {
        token: p.maintainer.token,
        body: { runner_type: 'group_type', group_id: p.groupId },
      });
      assert.equal(groupRunner.status, 403);
      const changed = await c.api('PUT', `/api/v4/runners/${mine.body.id}`, {
        token: p.maintainer.token,
        body: { description: 'builder', tag_list: ['arm'], run_untagged: false, maximum_timeout: 3600 },
      });
      assert.equal(changed.status, 200);
      assert.deepEqual(
        [
          changed.body.description,
          changed.body.tag_list,
          changed.body.run_untagged,
          changed.body.maximum_timeout,
        ],
        ['builder', ['arm'], false, 3600],
      );
    });

    it('deletes a runner: its token stops working and the job it was running fails', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': CONFIG });
      const c = await startTestCoordinator(dialect, { jobRequestWait: 0 });
      const p = await setUpProject(c, repo.path);
      const runner = await c.api('POST', '/api/v4/user/runners', { body: { runner_type: 'instance_type' } });
      const pipeline = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, {
        token: p.developer.token,
      });
      const job = await requestJob(c, runner.body.token);
      assert.ok(job);
      const deleted = await c.api('DELETE', `/api/v4/runners/${runner.body.id}`);
      assert.equal(deleted.status, 204);
      assert.equal((await c.api('GET', `/api/v4/runners/${runner.body.id}`)).status, 404);
      const verify = await c.api('POST', '/api/v4/runners/verify', {
        token: null,
        body: { token: runner.body.token },
      });
      assert.equal(verify.status, 403);
      const jobs = await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines/${pipeline.body.id}/jobs`);
      assert.equal(jobs.body[0].status, 'failed');
      assert.equal(jobs.body[0].failure_reason, 'runner_system_failure');
      assert.equal((await c.api('DELETE', `/api/v4/runners/${runner.body.id}`)).status, 404);
    });

    it('verifies a runner token and resets it with the current one', async () => {
      const c = await startTestCoordinator(dialect);
      const runner = await c.api('POST', '/api/v4/user/runners', { body: { runner_type: 'instance_type' } });
      const old: string = runner.body.token;
      const verify = (token: string) =>
        c.api('POST', '/api/v4/runners/verify', {
          token: null,
          body: { token, system_id: 's_0123456789ab' },
        });
      assert.equal((await verify(old)).status, 200);
      const reset = await c.api('POST', '/api/v4/runners/reset_authentication_token', {
        token: null,
        body: { token: old },
      });
      assert.equal(reset.status, 201);
      assert.deepEqual(Object.keys(reset.body).sort(), ['token', 'token_expires_at']);
      assert.match(reset.body.token, /^tsrt-/);
      assert.notEqual(reset.body.token, old);
      assert.equal((await verify(old)).status, 403, 'the old token stops working');
      assert.equal((await verify(reset.body.token)).status, 200);
      assert.equal((await verify(reset.body.token)).body.id, runner.body.id);
      const again = await c.api('POST', '/api/v4/runners/reset_authentication_token', {
        token: null,
        body: { token: old },
      });
      assert.equal(again.status, 403);
      assert.ok(!c.logs().includes(reset.body.token), 'no runner token in the log');
    });
  });
}
