import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeRepository } from '../coordinator/git-fixture.js';
import { registerRunner, requestJob, variable } from '../coordinator/runner-client.js';
import { testDialects } from '../store/dialects.js';
import { startTestCoordinator } from './harness.js';

for (const dialect of testDialects()) {
  describe(`lifecycle routes [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('changes, blocks, unblocks and deletes users; lists and rotates personal access tokens', async () => {
      const c = await startTestCoordinator(dialect);
      const ada = await c.api('POST', '/api/v4/users', {
        body: { username: 'ada', email: 'ada@example.com', name: 'Ada' },
      });
      const token = await c.api('POST', `/api/v4/users/${ada.body.id}/personal_access_tokens`, {
        body: { name: 'laptop', scopes: ['api'] },
      });
      const adaToken: string = token.body.token;
      const changed = await c.api('PUT', `/api/v4/users/${ada.body.id}`, {
        body: { name: 'Ada L.', can_create_group: false },
      });
      assert.equal(changed.status, 200, changed.text);
      assert.equal(changed.body.name, 'Ada L.');
      assert.equal(changed.body.can_create_group, false);
      assert.equal(
        (await c.api('PUT', `/api/v4/users/${ada.body.id}`, { body: { name: 'x' }, token: adaToken })).status,
        403,
        'only admins change users',
      );
      assert.equal((await c.api('PUT', '/api/v4/users/999', { body: { name: 'x' } })).status, 404);

      const blocked = await c.api('POST', `/api/v4/users/${ada.body.id}/block`);
      assert.equal(blocked.status, 201);
      assert.equal(blocked.body, true);
      assert.equal((await c.api('GET', '/api/v4/user', { token: adaToken })).status, 401);
      assert.deepEqual(
        (await c.api('GET', '/api/v4/users?blocked=true')).body.map((u: { username: string }) => u.username),
        ['ada'],
      );
      await c.api('POST', `/api/v4/users/${ada.body.id}/unblock`);
      assert.equal((await c.api('GET', '/api/v4/user', { token: adaToken })).status, 200);

      // Tokens: a user lists their own; an admin everyone's or one user's.
      const own = await c.api('GET', '/api/v4/personal_access_tokens', { token: adaToken });
      assert.deepEqual(
        own.body.map((t: { name: string }) => t.name),
        ['laptop'],
      );
      assert.equal(own.body[0].token, undefined, 'a listed token never shows its secret');
      assert.equal((await c.api('GET', '/api/v4/personal_access_tokens')).headers.get('x-total'), '2');
      assert.equal(
        (await c.api('GET', `/api/v4/personal_access_tokens?user_id=${ada.body.id}`)).body.length,
        1,
      );
      assert.equal(
        (await c.api('GET', '/api/v4/personal_access_tokens/self', { token: adaToken })).body.name,
        'laptop',
      );
      const rotated = await c.api('POST', `/api/v4/personal_access_tokens/${token.body.id}/rotate`, {
        token: adaToken,
      });
      assert.equal(rotated.status, 200, rotated.text);
      assert.equal(rotated.body.name, 'laptop');
      assert.deepEqual(rotated.body.scopes, ['api']);
      assert.match(rotated.body.expires_at, /^\d{4}-\d{2}-\d{2}$/);
      assert.notEqual(rotated.body.token, adaToken);
      assert.equal(
        (await c.api('GET', '/api/v4/user', { token: adaToken })).status,
        401,
        'the old one is revoked',
      );
      assert.equal((await c.api('GET', '/api/v4/user', { token: rotated.body.token })).status, 200);
      const again = await c.api('POST', `/api/v4/personal_access_tokens/${token.body.id}/rotate`);
      assert.equal(again.status, 400, 'a revoked token cannot be rotated');
      const self = await c.api('POST', '/api/v4/personal_access_tokens/self/rotate', {
        token: rotated.body.token,
        body: { expires_at: '2999-01-01' },
      });
      assert.equal(self.status, 200, self.text);
      assert.equal(self.body.expires_at, '2999-01-01');
      assert.equal(
        (await c.api('GET', '/api/v4/personal_access_tokens?state=active')).headers.get('x-total'),
        '2',
      );

      // Delete: the user and their tokens go; an admin cannot delete themself.
      const root = await c.api('GET', '/api/v4/user');
      assert.equal((await c.api('DELETE', `/api/v4/users/${root.body.id}`)).status, 403);
      assert.equal((await c.api('DELETE', `/api/v4/users/${ada.body.id}`)).status, 204);
      assert.equal((await c.api('GET', `/api/v4/users/${ada.body.id}`)).status, 404);
      assert.equal((await c.api('GET', '/api/v4/user', { token: self.body.token })).status, 401);
      assert.equal((await c.api('DELETE', `/api/v4/users/${ada.body.id}`)).status, 404);
    });

    it('deletes projects with what goes alongside, keeping their paths burned; changes and deletes groups', async () => {
      const c = await startTestCoordinator(dialect);
      const acme = await c.api('POST', '/api/v4/groups', {
        body: { name: 'Acme', path: 'acme', visibility: 'internal' },
      });
      const sub = await c.api('POST', '/api/v4/groups', {
        body: { name: 'Sub', path: 'sub', parent_id: acme.body.id, visibility: 'internal' },
      });
      const project = await c.api('POST', '/api/v4/projects', {
        body: { name: 'web', namespace_id: acme.body.id, repository_url: '/tmp/none' },
      });
      const pid = project.body.id;
      await c.api('POST', `/api/v4/projects/${pid}/variables`, { body: { key: 'K', value: 'v' } });
      await c.api('POST', `/api/v4/projects/${pid}/protected_branches`, { body: { name: 'main' } });
      await c.api('POST', '/api/v4/user/runners', { body: { runner_type: 'project_type', project_id: pid } });
      await c.api('POST', `/api/v4/projects/${pid}/triggers`, { body: { description: 't' } });
      const deleted = await c.api('DELETE', `/api/v4/projects/${pid}`);
      assert.equal(deleted.status, 202, deleted.text);
      assert.equal((await c.api('GET', `/api/v4/projects/${pid}`)).status, 404);
      assert.deepEqual((await c.api('GET', '/api/v4/runners')).body, []);
      // The path is free for a new project, but stays burned for project_path subjects.
      const again = await c.api('POST', '/api/v4/projects', {
        body: { name: 'web', namespace_id: acme.body.id, repository_url: '/tmp/none' },
      });
      assert.equal(again.status, 201, again.text);
      assert.equal(
        await c.server.coordinator.repos.projects.pathHeldByAnother(again.body.id, 'acme/web'),
        true,
      );

      // Groups: name and visibility (never wider than the parent, never narrower than what is below).
      const renamed = await c.api('PUT', `/api/v4/groups/${acme.body.id}`, { body: { name: 'Acme Corp' } });
      assert.equal(renamed.status, 200, renamed.text);
      assert.equal(renamed.body.name, 'Acme Corp');
      const tooWide = await c.api('PUT', `/api/v4/groups/${sub.body.id}`, { body: { visibility: 'public' } });
      assert.equal(tooWide.status, 400);
      assert.match(tooWide.body.message, /parent group is internal/);
      await c.api('PUT', `/api/v4/projects/${again.body.id}`, { body: { visibility: 'internal' } });
      const tooNarrow = await c.api('PUT', `/api/v4/groups/${acme.body.id}`, {
        body: { visibility: 'private' },
      });
      assert.equal(tooNarrow.status, 400);
      assert.equal(
        (await c.api('PUT', `/api/v4/groups/${sub.body.id}`, { body: { visibility: 'private' } })).body
          .visibility,
        'private',
      );
      const subProject = await c.api('POST', '/api/v4/projects', {
        body: { name: 'deep', namespace_id: sub.body.id, repository_url: '/tmp/none' },
      });
      const gone = await c.api('DELETE', `/api/v4/groups/${acme.body.id}`);
      assert.equal(gone.status, 202, gone.text);
      for (const path of [
        `/api/v4/groups/${acme.body.id}`,
        `/api/v4/groups/${sub.body.id}`,
        `/api/v4/projects/${again.body.id}`,
        `/api/v4/projects/${subProject.body.id}`,
      ]) {
        assert.equal((await c.api('GET', path)).status, 404, path);
      }
      assert.equal((await c.api('GET', '/api/v4/groups')).body.length, 0);
    });

    it('changes, stops and deletes environments, unprotects them, and pages every project list', async () => {
      const c = await startTestCoordinator(dialect);
      const group = await c.api('POST', '/api/v4/groups', { body: { name: 'Acme', path: 'acme' } });
      const project = await c.api('POST', '/api/v4/projects', {
        body: { name: 'web', namespace_id: group.body.id, repository_url: '/tmp/none' },
      });
      const base = `/api/v4/projects/${project.body.id}`;
      const env = await c.api('POST', `${base}/environments`, { body: { name: 'staging' } });
      const changed = await c.api('PUT', `${base}/environments/${env.body.id}`, {
        body: { external_url: 'https://staging.example.com', tier: 'testing' },
      });
      assert.equal(changed.status, 200, changed.text);
      assert.equal(changed.body.external_url, 'https://staging.example.com');
      assert.equal(changed.body.tier, 'testing');
      const early = await c.api('DELETE', `${base}/environments/${env.body.id}`);
      assert.equal(early.status, 403);
      assert.match(early.body.message, /stop it first/);
      const stopped = await c.api('POST', `${base}/environments/${env.body.id}/stop`);
      assert.equal(stopped.body.state, 'stopped');
      assert.equal((await c.api('DELETE', `${base}/environments/${env.body.id}`)).status, 204);
      assert.equal((await c.api('PUT', `${base}/environments/${env.body.id}`, { body: {} })).status, 404);
      await c.api('POST', `${base}/protected_environments`, {
        body: { name: 'production', deploy_access_levels: [{ access_level: 40 }] },
      });
      assert.equal((await c.api('DELETE', `${base}/protected_environments/production`)).status, 204);
      assert.equal((await c.api('DELETE', `${base}/protected_environments/production`)).status, 404);

      for (let i = 0; i < 3; i++) {
        await c.api('POST', `${base}/variables`, { body: { key: `K${i}`, value: 'v' } });
        await c.api('POST', `${base}/protected_branches`, { body: { name: `b${i}` } });
        await c.api('POST', `${base}/protected_tags`, { body: { name: `v${i}*` } });
        await c.api('POST', `${base}/environments`, { body: { name: `e${i}` } });
        await c.api('POST', `${base}/triggers`, { body: { description: `t${i}` } });
      }
      for (const list of ['variables', 'protected_branches', 'protected_tags', 'environments', 'triggers']) {
        const page = await c.api('GET', `${base}/${list}?per_page=2&page=2`);
        assert.equal(page.status, 200, `${list}: ${page.text}`);
        assert.equal(page.body.length, 1, list);
        assert.equal(page.headers.get('x-total'), '3', list);
        assert.equal(page.headers.get('x-prev-page'), '1', list);
      }
    });

    it('keeps group and instance variables, and hands jobs the nearest one of each key', async () => {
      const c = await startTestCoordinator(dialect);
      const repository = await makeRepository({ '.gitlab-ci.yml': 'job:\n  script: [echo]\n' });
      const top = await c.api('POST', '/api/v4/groups', { body: { name: 'Top', path: 'top' } });
      const sub = await c.api('POST', '/api/v4/groups', {
        body: { name: 'Sub', path: 'sub', parent_id: top.body.id },
      });
      const project = await c.api('POST', '/api/v4/projects', {
        body: { name: 'app', namespace_id: sub.body.id, repository_url: repository.path },
      });
      const set = async (base: string, key: string, value: string) => {
        const created = await c.api('POST', `${base}/variables`, { body: { key, value } });
        assert.equal(created.status, 201, created.text);
      };
      await set('/api/v4/admin/ci', 'FROM_INSTANCE', 'instance');
      await set('/api/v4/admin/ci', 'SHADOWED', 'instance');
      await set(`/api/v4/groups/${top.body.id}`, 'SHADOWED', 'top');
      await set(`/api/v4/groups/${top.body.id}`, 'NEAREST', 'top');
      await set(`/api/v4/groups/${sub.body.id}`, 'NEAREST', 'sub');
      await set(`/api/v4/projects/${project.body.id}`, 'OWN', 'project');
      const listed = await c.api('GET', `/api/v4/groups/${top.body.id}/variables?per_page=1`);
      assert.equal(listed.headers.get('x-total'), '2');
      const changed = await c.api('PUT', '/api/v4/admin/ci/variables/FROM_INSTANCE', {
        body: { value: 'changed' },
      });
      assert.equal(changed.body.value, 'changed');
      const dev = await c.api('POST', '/api/v4/users', {
        body: { username: 'dev', email: 'dev@example.com', name: 'Dev' },
      });
      const devToken = await c.api('POST', `/api/v4/users/${dev.body.id}/personal_access_tokens`, {
        body: { name: 't', scopes: ['api'] },
      });
      await c.api('POST', `/api/v4/groups/${top.body.id}/members`, {
        body: { user_id: dev.body.id, access_level: 40 },
      });
      assert.equal(
        (await c.api('GET', `/api/v4/groups/${top.body.id}/variables`, { token: devToken.body.token }))
          .status,
        403,
        'group variables are for Owners',
      );
      assert.equal(
        (await c.api('GET', '/api/v4/admin/ci/variables', { token: devToken.body.token })).status,
        403,
      );

      const runnerToken = await registerRunner(c);
      await c.api('POST', `/api/v4/projects/${project.body.id}/pipeline?ref=main`);
      const job = await requestJob(c, runnerToken);
      assert.ok(job);
      assert.deepEqual(
        ['FROM_INSTANCE', 'SHADOWED', 'NEAREST', 'OWN'].map((key) => variable(job, key)),
        ['changed', 'top', 'sub', 'project'],
      );
      assert.equal((await c.api('DELETE', `/api/v4/groups/${sub.body.id}/variables/NEAREST`)).status, 204);
      assert.equal((await c.api('GET', `/api/v4/groups/${sub.body.id}/variables/NEAREST`)).status, 404);
    });

    it('creates project and group access tokens for bot users that reach only their project or group', async () => {
      const c = await startTestCoordinator(dialect);
      const group = await c.api('POST', '/api/v4/groups', { body: { name: 'Acme', path: 'acme' } });
      const other = await c.api('POST', '/api/v4/groups', { body: { name: 'Other', path: 'other' } });
      const project = await c.api('POST', '/api/v4/projects', {
        body: { name: 'web', namespace_id: group.body.id, repository_url: '/tmp/none' },
      });
      const hidden = await c.api('POST', '/api/v4/projects', {
        body: { name: 'secret', namespace_id: other.body.id, repository_url: '/tmp/none' },
      });
      const base = `/api/v4/projects/${project.body.id}/access_tokens`;
      const created = await c.api('POST', base, {
        body: { name: 'deployer', scopes: ['api'], access_level: 30, expires_at: '2999-01-01' },
      });
      assert.equal(created.status, 201, created.text);
      assert.equal(created.body.access_level, 30);
      assert.match(created.body.token, /^tspat-/);
      const bot = await c.api('GET', '/api/v4/user', { token: created.body.token });
      assert.match(bot.body.username, new RegExp(`^project_${project.body.id}_bot_`));
      assert.equal(
        (await c.api('GET', `/api/v4/projects/${project.body.id}`, { token: created.body.token })).status,
        200,
      );
      assert.equal(
        (await c.api('GET', `/api/v4/projects/${hidden.body.id}`, { token: created.body.token })).status,
        404,
      );
      assert.equal(
        (
          await c.api('POST', `/api/v4/projects/${project.body.id}/variables`, {
            token: created.body.token,
            body: { key: 'K', value: 'v' },
          })
        ).status,
        403,
        'a developer-level bot is no maintainer',
      );
      const listed = await c.api('GET', base);
      assert.deepEqual(
        listed.body.map((t: { name: string; access_level: number }) => [t.name, t.access_level]),
        [['deployer', 30]],
      );
      assert.equal(listed.body[0].token, undefined);
      assert.equal((await c.api('GET', `${base}/${created.body.id}`)).body.name, 'deployer');
      const rotated = await c.api('POST', `${base}/${created.body.id}/rotate`);
      assert.equal(rotated.status, 200, rotated.text);
      assert.equal((await c.api('GET', '/api/v4/user', { token: created.body.token })).status, 401);
      assert.equal((await c.api('GET', '/api/v4/user', { token: rotated.body.token })).status, 200);
      assert.equal((await c.api('DELETE', `${base}/${rotated.body.id}`)).status, 204);
      assert.equal((await c.api('GET', '/api/v4/user', { token: rotated.body.token })).status, 401);
      // Another project's token id is not found here.
      const groupToken = await c.api('POST', `/api/v4/groups/${group.body.id}/access_tokens`, {
        body: { name: 'group-bot', scopes: ['read_api'], access_level: 20 },
      });
      assert.equal(groupToken.status, 201, groupToken.text);
      assert.equal((await c.api('GET', `${base}/${groupToken.body.id}`)).status, 404);
      assert.equal(
        (await c.api('GET', `/api/v4/projects/${project.body.id}`, { token: groupToken.body.token })).status,
        200,
        "a group bot reaches the group's projects",
      );
      assert.equal(
        (await c.api('GET', `/api/v4/groups/${group.body.id}/access_tokens`)).headers.get('x-total'),
        '1',
      );
    });
  });
}
