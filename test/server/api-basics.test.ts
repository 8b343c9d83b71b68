import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startServer } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config/load.js';
import { testDialects } from '../store/dialects.js';
import { startTestCoordinator } from './harness.js';

for (const dialect of testDialects()) {
  describe(`API basics [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('answers health and readiness, and 404 in the error shape', async () => {
      const c = await startTestCoordinator(dialect);
      assert.equal((await c.api('GET', '/-/health', { token: null })).status, 200);
      const ready = await c.api('GET', '/-/readiness', { token: null });
      assert.equal(ready.status, 200);
      assert.deepEqual(ready.body.checks, { database: 'ok', keys: 'ok' });
      const metrics = await c.api('GET', '/metrics', { token: null });
      assert.equal(metrics.status, 200);
      assert.match(metrics.text, /^tessera_signing_keys\{alg="RS256",state="current"\} 1$/m);
      assert.match(metrics.text, /^tessera_id_tokens_issued_total\{issued_via="on-demand"\} 0$/m);
      const openapi = await c.api('GET', '/api/v4/openapi.json', { token: null });
      assert.equal(openapi.body.openapi, '3.1.0');
      assert.ok(openapi.body.paths['/api/v4/projects/{id}/pipeline'].post);
      assert.deepEqual(
        openapi.body.paths['/api/v4/users'].post.requestBody.content['application/json'].schema.required,
        ['username', 'email', 'name'],
      );
      const missing = await c.api('GET', '/api/v4/nothing');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error, 'ERR_NOT_FOUND');
    });

    it('authenticates with PRIVATE-TOKEN or Bearer, refuses others, and rate-limits failures (not valid tokens)', async () => {
      const c = await startTestCoordinator(dialect, { authRateLimit: 3 });
      const me = await c.api('GET', '/api/v4/user');
      assert.equal(me.status, 200);
      assert.equal(me.body.username, 'root');
      assert.equal(me.body.is_admin, true);
      const bearer = await c.api('GET', '/api/v4/user', {
        token: null,
        headers: { authorization: `Bearer ${c.adminToken}` },
      });
      assert.equal(bearer.status, 200);
      const none = await c.api('GET', '/api/v4/user', { token: null });
      assert.equal(none.status, 401);
      assert.equal(none.body.error, 'ERR_AUTH_REQUIRED');
      // The missing token counted as the first failure; two more are still answered 401.
      for (let i = 0; i < 2; i++) {
        const bad = await c.api('GET', '/api/v4/user', { token: 'tspat-wrong' });
        assert.equal(bad.status, 401);
        assert.equal(bad.body.error, 'ERR_AUTH_INVALID');
      }
      const limited = await c.api('GET', '/api/v4/user', { token: 'tspat-wrong' });
      assert.equal(limited.status, 429);
      assert.equal(limited.body.error, 'ERR_RATE_LIMITED');
      assert.ok(Number(limited.headers.get('retry-after')) >= 1);
      const badRunner = await c.api('POST', '/api/v4/jobs/request', {
        token: null,
        body: { token: 'tsrt-wrong' },
      });
      assert.equal(badRunner.status, 429, 'every kind of credential counts');
      // Valid credentials from the same address still work: one bad client cannot lock others out.
      assert.equal((await c.api('GET', '/api/v4/user')).status, 200);
    });

    it('validates bodies: a bad field is a 400 naming it, and nothing is stored', async () => {
      const c = await startTestCoordinator(dialect);
      const missing = await c.api('POST', '/api/v4/users', { body: { username: 'ada', name: 'Ada' } });
      assert.equal(missing.status, 400);
      assert.equal(missing.body.error, 'ERR_VALIDATION');
      assert.match(missing.body.message, /body\.email is required/);
      const wrongType = await c.api('POST', '/api/v4/groups', { body: { name: 'x', path: 'bad path' } });
      assert.equal(wrongType.status, 400);
      assert.match(wrongType.body.message, /body\.path/);
      const notJson = await c.api('POST', '/api/v4/groups', { body: '{"name":' });
      assert.equal(notJson.status, 400);
      assert.equal(notJson.body.error, 'ERR_VALIDATION');
      const users = await c.api('GET', '/api/v4/users');
      assert.deepEqual(
        users.body.map((u: { username: string }) => u.username),
        ['root'],
      );
    });

    it('refuses group and project names with NUL, CR/LF or bidirectional formatting characters, naming the field', async () => {
      const c = await startTestCoordinator(dialect);
      const group = await c.api('POST', '/api/v4/groups', { body: { name: 'Good', path: 'good' } });
      assert.equal(group.status, 201);
      for (const [name, character] of [
        ['a\u0000b', 'U+0000'],
        ['line\r\nbreak', 'U+000D'],
        ['deploy\u202Eprod', 'U+202E'],
        ['x\u2066y', 'U+2066'],
        ['mark\u200F', 'U+200F'],
      ] as const) {
        const badGroup = await c.api('POST', '/api/v4/groups', { body: { name, path: 'bad' } });
        assert.equal(badGroup.status, 400, JSON.stringify(name));
        assert.equal(badGroup.body.error, 'ERR_VALIDATION');
        assert.equal(badGroup.body.details?.field, 'name');
        assert.match(
          badGroup.body.message,
          new RegExp(`^name must not contain control characters .* it has ${character.replace('+', '\\+')}$`),
        );
        const badProject = await c.api('POST', '/api/v4/projects', {
          body: { name, path: 'bad', namespace_id: group.body.id, repository_url: '/x' },
        });
        assert.equal(badProject.status, 400);
        assert.equal(badProject.body.details?.field, 'name');
      }
      const project = await c.api('POST', '/api/v4/projects', {
        body: { name: 'App', path: 'app', namespace_id: group.body.id, repository_url: '/x' },
      });
      const renamed = await c.api('PUT', `/api/v4/projects/${project.body.id}`, {
        body: { name: 'App\u202Egnp.exe' },
      });
      assert.equal(renamed.status, 400);
      assert.equal(renamed.body.details?.field, 'name');
      assert.deepEqual(
        (await c.api('GET', '/api/v4/groups')).body.map((g: { path: string }) => g.path),
        ['good'],
      );
      assert.equal((await c.api('GET', `/api/v4/projects/${project.body.id}`)).body.name, 'App');
      assert.equal((await c.api('GET', '/api/v4/projects')).body.length, 1);
    });

    it('answers 409 "has already been taken" for group and project paths that differ only in case', async () => {
      const c = await startTestCoordinator(dialect);
      const acme = await c.api('POST', '/api/v4/groups', { body: { name: 'Acme', path: 'acme' } });
      const twin = await c.api('POST', '/api/v4/groups', { body: { name: 'Acme', path: 'ACME' } });
      assert.equal(twin.status, 409);
      assert.equal(twin.body.error, 'ERR_CONFLICT');
      assert.match(twin.body.message, /^path has already been taken/);
      const create = (path: string) =>
        c.api('POST', '/api/v4/projects', {
          body: { name: path, path, namespace_id: acme.body.id, repository_url: '/x' },
        });
      assert.equal((await create('app')).status, 201);
      const app = await create('App');
      assert.equal(app.status, 409);
      assert.match(app.body.message, /^path has already been taken: group acme has a project at "App"/);
      const other = await create('other');
      const moved = await c.api('PUT', `/api/v4/projects/${other.body.id}`, { body: { path: 'APP' } });
      assert.equal(moved.status, 409);
      assert.match(moved.body.message, /^path has already been taken/);
      const projects = await c.api('GET', '/api/v4/projects');
      assert.deepEqual(projects.body.map((p: { path: string }) => p.path).sort(), ['app', 'other']);
    });

    it('manages users, tokens, groups, projects and inherited roles as GitLab shapes them', async () => {
      const c = await startTestCoordinator(dialect);
      const dev = await c.api('POST', '/api/v4/users', {
        body: { username: 'dev', email: 'dev@example.com', name: 'Dev' },
      });
      assert.equal(dev.status, 201);
      const pat = await c.api('POST', `/api/v4/users/${dev.body.id}/personal_access_tokens`, {
        body: { name: 'ci', scopes: ['api'] },
      });
      assert.equal(pat.status, 201);
      assert.match(pat.body.token, /^tspat-/);
      assert.equal(pat.body.active, true);
      const devToken: string = pat.body.token;
      assert.equal((await c.api('GET', '/api/v4/user', { token: devToken })).body.username, 'dev');
      // Anyone signed in lists users (GitLab), in the basic shape: no email, no admin flag.
      const listed = await c.api('GET', '/api/v4/users', { token: devToken });
      assert.equal(listed.status, 200);
      assert.equal(listed.body[0].email, undefined);

      const top = await c.api('POST', '/api/v4/groups', { body: { name: 'Acme', path: 'acme' } });
      assert.equal(top.status, 201);
      const sub = await c.api('POST', '/api/v4/groups', {
        body: { name: 'Platform', path: 'platform', parent_id: top.body.id },
      });
      assert.equal(sub.body.full_path, 'acme/platform');
      assert.equal(
        (await c.api('POST', '/api/v4/groups', { body: { name: 'Acme', path: 'acme' } })).status,
        409,
      );

      const project = await c.api('POST', '/api/v4/projects', {
        body: {
          name: 'API',
          path: 'api',
          namespace_id: sub.body.id,
          repository_url: '/tmp/none',
          default_branch: 'main',
        },
      });
      assert.equal(project.status, 201);
      assert.equal(project.body.path_with_namespace, 'acme/platform/api');
      assert.deepEqual(project.body.ci_id_token_sub_claim_components, ['project_path', 'ref_type', 'ref']);
      const id: number = project.body.id;

      // Not a member of a private project: it does not exist for them.
      assert.equal((await c.api('GET', `/api/v4/projects/${id}`, { token: devToken })).status, 404);
      // A role on the top group is inherited by the subgroup's project.
      const member = await c.api('POST', `/api/v4/groups/${top.body.id}/members`, {
        body: { user_id: dev.body.id, access_level: 30 },
      });
      assert.equal(member.status, 201);
      assert.equal(member.body.access_level, 30);
      assert.equal((await c.api('GET', `/api/v4/projects/${id}`, { token: devToken })).status, 200);
      assert.equal(
        (
          await c.api('GET', `/api/v4/projects/${encodeURIComponent('acme/platform/api')}`, {
            token: devToken,
          })
        ).body.id,
        id,
      );
      // Developer may not change maintainer settings.
      const forbidden = await c.api('PUT', `/api/v4/projects/${id}`, {
        token: devToken,
        body: { name: 'x' },
      });
      assert.equal(forbidden.status, 403);
      assert.equal(forbidden.body.error, 'ERR_FORBIDDEN');

      const put = await c.api('PUT', `/api/v4/projects/${id}`, {
        body: {
          ci_id_token_sub_claim_components: ['project_id', 'ref_protected'],
          ci_id_token_allowed_audiences: ['https://vault'],
        },
      });
      assert.equal(put.status, 200);
      assert.deepEqual(put.body.ci_id_token_sub_claim_components, ['project_id', 'ref_protected']);
      const badSub = await c.api('PUT', `/api/v4/projects/${id}`, {
        body: { ci_id_token_sub_claim_components: ['ref'] },
      });
      assert.equal(badSub.status, 400);
      assert.equal(badSub.body.error, 'ERR_TOKEN_SUB_COMPONENTS_INVALID');
    });

    it('stores protected branches and tags, environments, variables and runners', async () => {
      const c = await startTestCoordinator(dialect);
      const group = await c.api('POST', '/api/v4/groups', { body: { name: 'g', path: 'g' } });
      const project = await c.api('POST', '/api/v4/projects', {
        body: { name: 'p', namespace_id: group.body.id, repository_url: '/tmp/none' },
      });
      const id: number = project.body.id;
      const branch = await c.api('POST', `/api/v4/projects/${id}/protected_branches`, {
        body: { name: 'release/*', push_access_level: 40 },
      });
      assert.equal(branch.status, 201);
      assert.equal(branch.body.push_access_levels[0].access_level, 40);
      assert.equal(
        (await c.api('POST', `/api/v4/projects/${id}/protected_branches`, { body: { name: 'release/*' } }))
          .status,
        409,
      );
      const tag = await c.api('POST', `/api/v4/projects/${id}/protected_tags`, {
        form: { name: 'v*', create_access_level: '30' },
      });
      assert.equal(tag.status, 201);
      assert.equal(tag.body.create_access_levels[0].access_level, 30);
      const env = await c.api('POST', `/api/v4/projects/${id}/environments`, {
        body: { name: 'production' },
      });
      assert.equal(env.body.tier, 'production');
      const penv = await c.api('POST', `/api/v4/projects/${id}/protected_environments`, {
        body: { name: 'production', deploy_access_levels: [{ access_level: 40 }] },
      });
      assert.equal(penv.status, 201);
      const variable = await c.api('POST', `/api/v4/projects/${id}/variables`, {
        body: { key: 'SECRET', value: 's3cret-value', masked: true, protected: true },
      });
      assert.equal(variable.status, 201);
      assert.equal(variable.body.value, null, 'a masked value is never shown again');
      const short = await c.api('POST', `/api/v4/projects/${id}/variables`, {
        body: { key: 'M', value: 'abc', masked: true },
      });
      assert.equal(short.status, 400);
      const runner = await c.api('POST', '/api/v4/user/runners', {
        body: {
          runner_type: 'project_type',
          project_id: id,
          description: 'r',
          tag_list: ['linux'],
          run_untagged: false,
        },
      });
      assert.equal(runner.status, 201);
      assert.match(runner.body.token, /^tsrt-/);
      const verify = await c.api('POST', '/api/v4/runners/verify', {
        token: null,
        body: { token: runner.body.token },
      });
      assert.equal(verify.status, 200);
      assert.equal(verify.body.id, runner.body.id);
      assert.equal(
        (await c.api('POST', '/api/v4/runners/verify', { token: null, body: { token: 'nope' } })).status,
        403,
      );
      const all = await c.api('GET', '/api/v4/runners/all');
      assert.deepEqual(all.body[0].tag_list, ['linux']);
      assert.ok(!c.logs().includes(runner.body.token), 'no runner token in the log');
      assert.ok(!c.logs().includes(c.adminToken), 'no access token in the log');
      assert.ok(!c.logs().includes('s3cret-value'));
    });

    it('lists and rotates signing keys for admins only', async () => {
      const c = await startTestCoordinator(dialect);
      const keys = await c.api('GET', '/api/v4/admin/signing_keys');
      assert.equal(keys.status, 200);
      const algs = new Set(keys.body.map((k: { alg: string }) => k.alg));
      assert.deepEqual([...algs].sort(), ['ES256', 'RS256']);
      assert.ok(keys.body.every((k: Record<string, unknown>) => !('d' in k) && !('publicJwk' in k)));
      const rotated = await c.api('POST', '/api/v4/admin/signing_keys/rotate', {
        body: { alg: 'ES256', force: true },
      });
      assert.equal(rotated.status, 201);
      assert.equal(rotated.body.alg, 'ES256');
    });
  });
}

describe('tessera serve first start', () => {
  it('creates root with a generated token written once to <dataDir>/admin-token (0600)', async () => {
    const [sqlite] = testDialects();
    const location = await sqlite!.freshLocation();
    const config = loadConfig(
      { host: '127.0.0.1', port: 0, dataDir: location.dataDir, logLevel: 'silent' },
      {},
    );
    const notices: string[] = [];
    const first = await startServer(config, { env: {}, notice: (line) => notices.push(line) });
    const file = join(location.dataDir, 'admin-token');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal(notices.length, 1);
    const token = /: (tspat-\S+)$/.exec(notices[0]!)?.[1];
    assert.ok(token);
    const me = await fetch(`${first.url}/api/v4/user`, { headers: { 'private-token': token } });
    assert.equal(((await me.json()) as { username: string }).username, 'root');
    await first.close();
    const second = await startServer(config, { env: {}, notice: (line) => notices.push(line) });
    await second.close();
    assert.equal(notices.length, 1, 'the token is printed on the first start only');
  });
});

for (const dialect of testDialects()) {
  describe(`bad input never stores or crashes [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('answers 4xx for odd values in bodies, paths and queries', async () => {
      const c = await startTestCoordinator(dialect);
      const group = await c.api('POST', '/api/v4/groups', { body: { name: 'g', path: 'g' } });
      const project = await c.api('POST', '/api/v4/projects', {
        body: { name: 'p', namespace_id: group.body.id, repository_url: '/x' },
      });
      const id: number = project.body.id;
      const nul = await c.api('POST', `/api/v4/projects/${id}/variables`, {
        body: { key: 'K', value: 'a\u0000b' },
      });
      assert.ok(nul.status === 201 || nul.status === 400, `NUL: ${nul.status}`);
      for (const [method, path, body] of [
        ['GET', '/api/v4/projects/99999999999999', undefined],
        ['GET', `/api/v4/projects/${encodeURIComponent('../../etc')}`, undefined],
        ['POST', '/api/v4/groups', { name: 'x'.repeat(300), path: 'x' }],
        ['POST', '/api/v4/groups', { name: 'x', path: 'y', parent_id: 99999999999 }],
        [
          'POST',
          '/api/v4/users',
          '{"__proto__": {"admin": true}, "username": "p", "email": "p@p", "name": "p"}',
        ],
        ['POST', `/api/v4/projects/${id}/members`, { user_id: -1, access_level: 30 }],
        ['POST', `/api/v4/projects/${id}/protected_branches`, { name: 'a b' }],
        ['PUT', `/api/v4/projects/${id}`, { ci_id_token_max_lifetime: 10 }],
        ['GET', '/api/v4/job/id_token?audience=', undefined],
        ['POST', '/api/v4/jobs/request', { token: 42 }],
        ['PUT', '/api/v4/jobs/1', { token: 'x', state: 'exploded' }],
        ['PATCH', '/api/v4/jobs/abc/trace', 'x'],
      ] as const) {
        const answer = await c.api(method, path, body === undefined ? {} : { body });
        assert.ok(
          answer.status >= 400 && answer.status < 500,
          `${method} ${path}: ${answer.status} ${answer.text}`,
        );
        assert.match(answer.body.error, /^ERR_/);
      }
      assert.deepEqual(
        (await c.api('GET', '/api/v4/users')).body.map((u: { username: string }) => u.username),
        ['root'],
      );
    });
  });
}
