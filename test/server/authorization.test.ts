import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { finishJob } from '../../src/coordinator/finish-job.js';
import { makeRepository } from '../coordinator/git-fixture.js';
import { setUpProject } from '../coordinator/project-fixture.js';
import { testDialects } from '../store/dialects.js';
import { startTestCoordinator, type TestCoordinator } from './harness.js';

/** A new user with a personal access token of `scopes` (made by the admin). */
async function userWithScopes(
  c: TestCoordinator,
  username: string,
  scopes: string[],
  options: { expiresAt?: string; admin?: boolean } = {},
): Promise<{ id: number; token: string; tokenId: number }> {
  const user = await c.api('POST', '/api/v4/users', {
    body: { username, email: `${username}@example.com`, name: username, admin: options.admin === true },
  });
  assert.equal(user.status, 201, user.text);
  const pat = await c.api('POST', `/api/v4/users/${user.body.id}/personal_access_tokens`, {
    body: { name: 't', scopes, ...(options.expiresAt ? { expires_at: options.expiresAt } : {}) },
  });
  assert.equal(pat.status, 201, pat.text);
  return { id: user.body.id, token: pat.body.token, tokenId: pat.body.id };
}

const INSUFFICIENT = 'The request requires higher privileges than provided by the access token.';

for (const dialect of testDialects()) {
  describe(`API authorization [${dialect.name}]`, { skip: dialect.skip }, () => {
    it("enforces GitLab's token scopes on every route, with its insufficient_scope answer", async () => {
      const c = await startTestCoordinator(dialect);
      const group = await c.api('POST', '/api/v4/groups', { body: { name: 'g', path: 'g' } });
      const project = await c.api('POST', '/api/v4/projects', {
        body: { name: 'p', namespace_id: group.body.id, repository_url: '/tmp/none' },
      });
      const reader = await userWithScopes(c, 'reader', ['read_user']);
      const readApi = await userWithScopes(c, 'readapi', ['read_api']);
      const runnerMaker = await userWithScopes(c, 'runners', ['create_runner']);
      for (const who of [reader, readApi, runnerMaker]) {
        await c.api('POST', `/api/v4/groups/${group.body.id}/members`, {
          body: { user_id: who.id, access_level: 40 },
        });
      }

      // read_user: the user routes' GETs, nothing else.
      assert.equal((await c.api('GET', '/api/v4/user', { token: reader.token })).status, 200);
      assert.equal((await c.api('GET', `/api/v4/users/${reader.id}`, { token: reader.token })).status, 200);
      const createGroup = await c.api('POST', '/api/v4/groups', {
        token: reader.token,
        body: { name: 'x', path: 'x' },
      });
      assert.equal(createGroup.status, 403);
      assert.deepEqual(
        { ...createGroup.body, message: undefined },
        { error: 'insufficient_scope', error_description: INSUFFICIENT, scope: 'api', message: undefined },
      );
      assert.match(createGroup.body.message, /scopes api; this one has read_user/);
      assert.match(createGroup.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
      const listProjects = await c.api('GET', '/api/v4/projects', { token: reader.token });
      assert.equal(listProjects.status, 403);
      assert.equal(listProjects.body.scope, 'api read_api');
      const pipeline = await c.api('POST', `/api/v4/projects/${project.body.id}/pipeline?ref=main`, {
        token: reader.token,
      });
      assert.equal(pipeline.status, 403);
      assert.equal(pipeline.body.error, 'insufficient_scope');

      // read_api: every GET, no change.
      assert.equal((await c.api('GET', '/api/v4/projects', { token: readApi.token })).status, 200);
      assert.equal(
        (await c.api('GET', `/api/v4/projects/${project.body.id}/variables`, { token: readApi.token }))
          .status,
        200,
      );
      const put = await c.api('PUT', `/api/v4/projects/${project.body.id}`, {
        token: readApi.token,
        body: { name: 'renamed' },
      });
      assert.equal(put.status, 403);
      assert.equal(put.body.scope, 'api');

      // create_runner: runner creation only.
      const runner = await c.api('POST', '/api/v4/user/runners', {
        token: runnerMaker.token,
        body: { runner_type: 'project_type', project_id: project.body.id },
      });
      assert.equal(runner.status, 201, runner.text);
      assert.equal((await c.api('GET', '/api/v4/projects', { token: runnerMaker.token })).status, 403);

      // manage_runner: the runner management routes (admin ones here), not the rest.
      const runnerAdmin = await userWithScopes(c, 'radmin', ['manage_runner'], { admin: true });
      assert.equal((await c.api('GET', '/api/v4/runners/all', { token: runnerAdmin.token })).status, 200);
      assert.equal(
        (await c.api('GET', `/api/v4/runners/${runner.body.id}`, { token: runnerAdmin.token })).status,
        200,
      );
      assert.equal(
        (await c.api('GET', '/api/v4/admin/signing_keys', { token: runnerAdmin.token })).status,
        403,
      );

      // Scopes that grant no API route here.
      for (const scope of ['read_repository', 'admin_mode', 'sudo']) {
        const only = await userWithScopes(c, `only-${scope.replace('_', '-')}`, [scope]);
        assert.equal((await c.api('GET', '/api/v4/user', { token: only.token })).status, 403, scope);
      }
    });

    it('checks the scopes on every GET route of the API v4 (from its OpenAPI document)', async () => {
      const c = await startTestCoordinator(dialect);
      const noApi = await userWithScopes(c, 'norepo', ['read_repository']);
      const reader = await userWithScopes(c, 'reader', ['read_api'], { admin: true });
      const openapi = await c.api('GET', '/api/v4/openapi.json', { token: null });
      // Routes that take no personal access token: the document itself and the job-token routes.
      const other = new Set([
        '/api/v4/openapi.json',
        '/api/v4/job/id_token',
        '/api/v4/jobs/{id}/artifacts',
        '/api/v4/job',
      ]);
      type Operation = { parameters?: { in: string; name: string; required?: boolean }[] };
      // Each path with its required query parameters filled, so that only the scope can refuse it.
      const gets = Object.entries(openapi.body.paths as Record<string, Record<string, Operation>>)
        .filter(([path, methods]) => path.startsWith('/api/v4/') && 'get' in methods && !other.has(path))
        .map(([path, methods]) => {
          const query = (methods.get?.parameters ?? [])
            .filter((parameter) => parameter.in === 'query' && parameter.required)
            .map((parameter) => `${parameter.name}=x`)
            .join('&');
          const filled = path.replace(/\{key\}/g, 'K').replace(/\{[a-z_]+\}/g, '1');
          return query === '' ? filled : `${filled}?${query}`;
        });
      assert.ok(gets.length >= 15, `only ${gets.length} GET routes found`);
      for (const path of gets) {
        const refused = await c.api('GET', path, { token: noApi.token });
        assert.equal(refused.status, 403, `${path}: ${refused.text}`);
        assert.equal(refused.body.error, 'insufficient_scope', path);
        const read = await c.api('GET', path, { token: reader.token });
        assert.notEqual(read.body?.error, 'insufficient_scope', `${path} with read_api`);
      }
      // Every other method needs `api`: a read_api token gets no further than the body's schema.
      const runnerProtocol =
        /^\/api\/v4\/(jobs\/request|jobs\/\{id\}(\/trace|\/artifacts)?|runners\/verify)$/;
      let refusedWrites = 0;
      for (const [path, methods] of Object.entries(
        openapi.body.paths as Record<string, Record<string, unknown>>,
      )) {
        if (!path.startsWith('/api/v4/') || runnerProtocol.test(path)) continue;
        for (const method of Object.keys(methods).filter((m) => m !== 'get')) {
          const url = path.replace(/\{key\}/g, 'K').replace(/\{[a-z_]+\}/g, '1');
          const answer = await c.api(method.toUpperCase(), url, { token: reader.token, body: {} });
          if (answer.status === 400 && answer.body.error === 'ERR_VALIDATION') continue;
          assert.equal(answer.body.error, 'insufficient_scope', `${method} ${path}: ${answer.text}`);
          refusedWrites += 1;
        }
      }
      assert.ok(refusedWrites >= 10, `only ${refusedWrites} writes reached the scope check`);
    });

    it('refuses expired and revoked tokens (401), and lets users revoke their own', async () => {
      let now = Date.parse('2030-01-10T12:00:00Z');
      const c = await startTestCoordinator(dialect, {}, { clock: () => now });
      const soon = await userWithScopes(c, 'soon', ['api'], { expiresAt: '2030-01-11' });
      assert.equal((await c.api('GET', '/api/v4/user', { token: soon.token })).status, 200);
      now = Date.parse('2030-01-11T00:00:01Z');
      const expired = await c.api('GET', '/api/v4/user', { token: soon.token });
      assert.equal(expired.status, 401);
      assert.equal(expired.body.error, 'ERR_AUTH_INVALID');
      assert.match(expired.body.message, /expired/);

      const alice = await userWithScopes(c, 'alice', ['api']);
      const bob = await userWithScopes(c, 'bob', ['api']);
      const foreign = await c.api('DELETE', `/api/v4/personal_access_tokens/${alice.tokenId}`, {
        token: bob.token,
      });
      assert.equal(foreign.status, 404, "someone else's token is not theirs to revoke");
      assert.equal((await c.api('GET', '/api/v4/user', { token: alice.token })).status, 200);
      const self = await c.api('DELETE', '/api/v4/personal_access_tokens/self', { token: alice.token });
      assert.equal(self.status, 204);
      const revoked = await c.api('GET', '/api/v4/user', { token: alice.token });
      assert.equal(revoked.status, 401);
      assert.match(revoked.body.message, /revoked/);
      const byAdmin = await c.api('DELETE', `/api/v4/personal_access_tokens/${bob.tokenId}`);
      assert.equal(byAdmin.status, 204);
      assert.equal((await c.api('GET', '/api/v4/user', { token: bob.token })).status, 401);
    });

    it('acts as another user with Sudo only for an admin token with the sudo scope', async () => {
      const c = await startTestCoordinator(dialect);
      const dev = await userWithScopes(c, 'dev', ['api', 'sudo']);
      const asDev = await c.api('GET', '/api/v4/user', { headers: { sudo: 'dev' } });
      assert.equal(asDev.status, 200);
      assert.equal(asDev.body.username, 'dev');
      assert.equal(
        (await c.api('GET', '/api/v4/user', { headers: { sudo: String(dev.id) } })).body.id,
        dev.id,
      );
      const notAdmin = await c.api('GET', '/api/v4/user', { token: dev.token, headers: { sudo: 'root' } });
      assert.equal(notAdmin.status, 403);
      assert.equal(notAdmin.body.error, 'ERR_FORBIDDEN');
      const adminNoSudo = await userWithScopes(c, 'admin2', ['api'], { admin: true });
      const noScope = await c.api('GET', '/api/v4/user', {
        token: adminNoSudo.token,
        headers: { sudo: 'dev' },
      });
      assert.equal(noScope.status, 403);
      assert.equal(noScope.body.scope, 'sudo');
      assert.equal((await c.api('GET', '/api/v4/user', { headers: { sudo: 'nobody' } })).status, 404);
    });

    it('shows other users only their public fields; admins and the user themself see more', async () => {
      const c = await startTestCoordinator(dialect);
      const ann = await userWithScopes(c, 'ann', ['api']);
      const ben = await userWithScopes(c, 'ben', ['read_user']);
      const seen = await c.api('GET', `/api/v4/users/${ann.id}`, { token: ben.token });
      assert.equal(seen.status, 200);
      assert.equal(seen.body.username, 'ann');
      assert.equal(seen.body.email, undefined);
      assert.equal(seen.body.is_admin, undefined);
      assert.equal(seen.body.web_url, `${c.server.coordinator.urls.serverUrl}/ann`);
      const list = await c.api('GET', '/api/v4/users', { token: ben.token });
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.map((user: { username: string }) => user.username),
        ['root', 'ann', 'ben'],
      );
      assert.ok(
        list.body.every((user: Record<string, unknown>) => !('email' in user) && !('is_admin' in user)),
      );
      const me = await c.api('GET', '/api/v4/user', { token: ben.token });
      assert.equal(me.body.email, 'ben@example.com');
      assert.equal(me.body.is_admin, false);
      assert.equal(
        (await c.api('GET', `/api/v4/users/${ben.id}`, { token: ben.token })).body.email,
        'ben@example.com',
      );
      const byAdmin = await c.api('GET', `/api/v4/users/${ann.id}`);
      assert.equal(byAdmin.body.email, 'ann@example.com');
      assert.equal(byAdmin.body.is_admin, false);
      assert.equal((await c.api('GET', '/api/v4/users')).body[0].is_admin, true);
    });

    it('lets only owners add, demote or remove owners, and keeps the last owner', async () => {
      const c = await startTestCoordinator(dialect);
      const group = await c.api('POST', '/api/v4/groups', { body: { name: 'g', path: 'g' } });
      const gid: number = group.body.id;
      const maintainer = await userWithScopes(c, 'maint', ['api']);
      const owner = await userWithScopes(c, 'owner2', ['api']);
      const dev = await userWithScopes(c, 'dev', ['api']);
      const add = (userId: number, level: number, token?: string) =>
        c.api('POST', `/api/v4/groups/${gid}/members`, {
          ...(token ? { token } : {}),
          body: { user_id: userId, access_level: level },
        });
      assert.equal((await add(maintainer.id, 40)).status, 201);
      assert.equal((await add(owner.id, 50)).status, 201);
      assert.equal((await add(dev.id, 30, maintainer.token)).status, 201, 'maintainers manage non-owners');

      const promote = await add(dev.id, 50, maintainer.token);
      assert.equal(promote.status, 403);
      assert.match(promote.body.message, /only an owner can grant the owner role/);
      const demoteByPost = await add(owner.id, 30, maintainer.token);
      assert.equal(demoteByPost.status, 403);
      const demote = await c.api('PUT', `/api/v4/groups/${gid}/members/${owner.id}`, {
        token: maintainer.token,
        body: { access_level: 10 },
      });
      assert.equal(demote.status, 403);
      assert.match(demote.body.message, /only an owner can change or remove an owner/);
      const remove = await c.api('DELETE', `/api/v4/groups/${gid}/members/${owner.id}`, {
        token: maintainer.token,
      });
      assert.equal(remove.status, 403);
      const members = await c.api('GET', `/api/v4/groups/${gid}/members`);
      assert.equal(
        members.body.find((m: { id: number }) => m.id === owner.id).access_level,
        50,
        'the owner is still an owner',
      );
      assert.equal(
        (
          await c.api('PUT', `/api/v4/groups/${gid}/members/${dev.id}`, {
            token: maintainer.token,
            body: { access_level: 20 },
          })
        ).status,
        200,
      );
      assert.equal(
        (await c.api('DELETE', `/api/v4/groups/${gid}/members/${dev.id}`, { token: maintainer.token }))
          .status,
        204,
      );

      // An owner may demote another owner; then the remaining one is the last and stays.
      const rootId: number = (await c.api('GET', '/api/v4/user')).body.id;
      assert.equal(
        (
          await c.api('PUT', `/api/v4/groups/${gid}/members/${rootId}`, {
            token: owner.token,
            body: { access_level: 40 },
          })
        ).status,
        200,
      );
      const last = await c.api('DELETE', `/api/v4/groups/${gid}/members/${owner.id}`);
      assert.equal(last.status, 403, 'even an admin cannot remove the last owner');
      assert.match(last.body.message, /must keep at least one owner/);
      const leave = await c.api('DELETE', `/api/v4/groups/${gid}/members/${owner.id}`, {
        token: owner.token,
      });
      assert.equal(leave.status, 403, 'nor can the last owner leave');
      const lastDemote = await c.api('PUT', `/api/v4/groups/${gid}/members/${owner.id}`, {
        token: owner.token,
        body: { access_level: 40 },
      });
      assert.equal(lastDemote.status, 403);

      // Projects: the same owner rules; the group's owners count as the project's.
      const project = await c.api('POST', '/api/v4/projects', {
        body: { name: 'p', namespace_id: gid, repository_url: '/tmp/none' },
      });
      const pid: number = project.body.id;
      assert.equal(
        (
          await c.api('POST', `/api/v4/projects/${pid}/members`, {
            body: { user_id: dev.id, access_level: 50 },
          })
        ).status,
        201,
      );
      const projectDemote = await c.api('PUT', `/api/v4/projects/${pid}/members/${dev.id}`, {
        token: maintainer.token,
        body: { access_level: 30 },
      });
      assert.equal(projectDemote.status, 403);
      assert.equal(
        (await c.api('DELETE', `/api/v4/projects/${pid}/members/${dev.id}`, { token: owner.token })).status,
        204,
        'the group owner still owns the project',
      );
    });

    it('sends nosniff on every answer and no-store on answers that carry a secret', async () => {
      const c = await startTestCoordinator(dialect);
      const group = await c.api('POST', '/api/v4/groups', { body: { name: 'g', path: 'g' } });
      const project = await c.api('POST', '/api/v4/projects', {
        body: { name: 'p', namespace_id: group.body.id, repository_url: '/tmp/none' },
      });
      const user = await c.api('POST', '/api/v4/users', {
        body: { username: 'u', email: 'u@example.com', name: 'u' },
      });
      const pat = await c.api('POST', `/api/v4/users/${user.body.id}/personal_access_tokens`, {
        body: { name: 't', scopes: ['api'] },
      });
      const runner = await c.api('POST', '/api/v4/user/runners', {
        body: { runner_type: 'project_type', project_id: project.body.id },
      });
      const verify = await c.api('POST', '/api/v4/runners/verify', {
        token: null,
        body: { token: runner.body.token },
      });
      for (const answer of [pat, runner, verify]) {
        assert.equal(answer.headers.get('cache-control'), 'no-store');
        assert.equal(answer.headers.get('x-content-type-options'), 'nosniff');
      }
      for (const path of ['/api/v4/user', '/api/v4/nothing', '/-/health']) {
        assert.equal((await c.api('GET', path)).headers.get('x-content-type-options'), 'nosniff', path);
      }
      const jwks = await c.api('GET', '/oauth/discovery/keys', { token: null });
      assert.match(jwks.headers.get('cache-control') ?? '', /^public, max-age=/, 'JWKS stays cacheable');
    });

    it('serves /metrics to the allow-listed addresses or the metrics token only', async () => {
      const open = await startTestCoordinator(dialect);
      assert.equal((await open.api('GET', '/metrics', { token: null })).status, 200, 'loopback by default');
      const metricsToken = 'metrics-token-0123456789';
      const c = await startTestCoordinator(
        dialect,
        { metricsAllow: '192.0.2.0/24' },
        { env: { TESSERA_METRICS_TOKEN: metricsToken } },
      );
      const refused = await c.api('GET', '/metrics', { token: null });
      assert.equal(refused.status, 404);
      assert.doesNotMatch(refused.text, /tessera_/);
      assert.equal((await c.api('GET', '/metrics', { token: 'wrong-token-0123456789' })).status, 404);
      const byToken = await c.api('GET', '/metrics', {
        token: null,
        headers: { authorization: `Bearer ${metricsToken}` },
      });
      assert.equal(byToken.status, 200);
      assert.match(byToken.text, /^tessera_jobs_claimed_total \d+$/m);
    });

    it('refuses to start with a guessable introspection or metrics token', async () => {
      for (const name of ['TESSERA_INTROSPECTION_TOKEN', 'TESSERA_METRICS_TOKEN']) {
        await assert.rejects(
          startTestCoordinator(dialect, {}, { env: { [name]: 'short' } }),
          (error: Error) => {
            assert.match(error.message, new RegExp(`${name} must be at least 16 characters`));
            return true;
          },
        );
      }
    });

    it('answers introspection to authorised callers only, and rate-limits them', async () => {
      const introspectionToken = 'introspection-token-0123456789';
      const c = await startTestCoordinator(
        dialect,
        { introspectionRateLimit: 3 },
        { env: { TESSERA_INTROSPECTION_TOKEN: introspectionToken } },
      );
      const introspect = (options: { token?: string | null; headers?: Record<string, string> }) =>
        c.api('POST', '/oauth/introspect', { ...options, form: { token: 'not.a.token' } });
      const anonymous = await introspect({ token: null });
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.body.error, 'ERR_AUTH_REQUIRED');
      const readUser = await userWithScopes(c, 'ru', ['read_user']);
      const wrongScope = await introspect({ token: readUser.token });
      assert.equal(wrongScope.status, 403);
      assert.equal(wrongScope.body.scope, 'api read_api');
      const readApi = await userWithScopes(c, 'ra', ['read_api']);
      assert.deepEqual((await introspect({ token: readApi.token })).body, { active: false });
      const byInstance = await introspect({
        token: null,
        headers: { authorization: `Bearer ${introspectionToken}` },
      });
      assert.equal(byInstance.status, 200);
      assert.equal(byInstance.headers.get('cache-control'), 'no-store');
      assert.equal((await introspect({ token: 'not-the-introspection-token' })).status, 401);
      for (let i = 0; i < 2; i++) assert.equal((await introspect({ token: readApi.token })).status, 200);
      const limited = await introspect({ token: readApi.token });
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
      assert.equal(
        (await introspect({ token: null, headers: { authorization: `Bearer ${introspectionToken}` } }))
          .status,
        200,
        'each caller has its own budget',
      );
    });

    it('lets only those who may push to a protected ref cancel, retry, play or erase its jobs and pipelines', async () => {
      const repo = await makeRepository({
        '.gitlab-ci.yml': 'build:\n  script: [echo]\nship:\n  script: [echo]\n  when: manual\n',
      });
      repo.git('branch', 'release/1.0');
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      await c.api('POST', `/api/v4/projects/${p.projectId}/protected_branches`, {
        body: { name: 'release/*', push_access_level: 40 },
      });
      const start = async (ref: string) => {
        const created = await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=${ref}`, {
          token: p.maintainer.token,
        });
        assert.equal(created.status, 201, created.text);
        const jobs = await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines/${created.body.id}/jobs`);
        const byName = Object.fromEntries(
          jobs.body.map((job: { name: string; id: number }) => [job.name, job.id]),
        );
        return {
          pipelineId: created.body.id as number,
          build: byName.build as number,
          ship: byName.ship as number,
        };
      };
      const act = (token: string, path: string) =>
        c.api('POST', `/api/v4/projects/${p.projectId}/${path}`, { token });
      const release = await start('release/1.0');
      for (const path of [
        `jobs/${release.build}/cancel`,
        `jobs/${release.ship}/play`,
        `pipelines/${release.pipelineId}/cancel`,
      ]) {
        const refused = await act(p.developer.token, path);
        assert.equal(refused.status, 403, path);
        assert.equal(refused.body.error, 'ERR_REF_PROTECTED');
        assert.match(refused.body.message, /branch "release\/1\.0" is protected: only the Maintainer role/);
      }
      const coordinator = c.server.coordinator;
      await coordinator.repos.jobs.transition(release.build, ['pending'], {
        status: 'running',
        startedAt: coordinator.clock(),
      });
      await finishJob(coordinator, release.build, { status: 'failed', exitCode: 1 });
      for (const path of [
        `jobs/${release.build}/retry`,
        `jobs/${release.build}/erase`,
        `pipelines/${release.pipelineId}/retry`,
      ]) {
        const refused = await act(p.developer.token, path);
        assert.equal(refused.status, 403, path);
        assert.equal(refused.body.error, 'ERR_REF_PROTECTED');
      }
      assert.equal((await act(p.maintainer.token, `jobs/${release.build}/erase`)).status, 201);
      assert.equal((await act(p.maintainer.token, `pipelines/${release.pipelineId}/cancel`)).status, 201);
      // On an unprotected branch developers keep every action.
      const main = await start('main');
      assert.equal((await act(p.developer.token, `jobs/${main.build}/cancel`)).status, 201);
      assert.equal((await act(p.developer.token, `jobs/${main.ship}/play`)).status, 201);
      assert.equal((await act(p.developer.token, `pipelines/${main.pipelineId}/cancel`)).status, 201);
    });
  });
}
