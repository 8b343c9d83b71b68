import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { makeRepository } from '../coordinator/git-fixture.js';
import { testDialects } from '../store/dialects.js';
import { startTestCoordinator, type TestCoordinator } from './harness.js';

/** A user with a token who owns a top-level group of their own (as any user may create one). */
async function userWithGroup(c: TestCoordinator, username: string) {
  const user = await c.api('POST', '/api/v4/users', {
    body: { username, email: `${username}@example.com`, name: username },
  });
  const token: string = (
    await c.api('POST', `/api/v4/users/${user.body.id}/personal_access_tokens`, {
      body: { name: 't', scopes: ['api'] },
    })
  ).body.token;
  const group = await c.api('POST', '/api/v4/groups', { token, body: { name: username, path: username } });
  assert.equal(group.status, 201);
  return { id: user.body.id as number, token, groupId: group.body.id as number };
}

const [dialect] = testDialects();

describe('repository_url', () => {
  it('keeps local paths from users: every refusal reads the same, whatever is on the disk', async () => {
    const other = await makeRepository({ '.gitlab-ci.yml': 'job: { script: [true] }\n' });
    const c = await startTestCoordinator(dialect!);
    const mallory = await userWithGroup(c, 'mallory');
    const messages = new Set<string>();
    for (const url of [
      other.path,
      `file://${other.path}`,
      '/etc/passwd',
      '/no/such/path',
      `${other.path}/../${other.path.split('/').pop()}`,
    ]) {
      const answer = await c.api('POST', '/api/v4/projects', {
        token: mallory.token,
        body: { name: 'p', namespace_id: mallory.groupId, repository_url: url },
      });
      assert.equal(answer.status, 400, url);
      assert.equal(answer.body.error, 'ERR_REPOSITORY_URL_BLOCKED');
      assert.equal(answer.body.details.field, 'body.repository_url');
      messages.add(answer.body.message);
    }
    assert.equal(messages.size, 1, [...messages].join(' | '));
    // An administrator may (tessera run's root does), and a maintainer may not switch to one later.
    const admins = await c.api('POST', '/api/v4/projects', {
      body: { name: 'ok', namespace_id: mallory.groupId, repository_url: other.path },
    });
    assert.equal(admins.status, 201);
    const switched = await c.api('PUT', `/api/v4/projects/${admins.body.id}`, {
      token: mallory.token,
      body: { repository_url: '/etc' },
    });
    assert.equal(switched.status, 400);
    assert.equal(switched.body.error, 'ERR_REPOSITORY_URL_BLOCKED');
  });

  it('takes only https, http, ssh and user@host:path, and no host on the local network', async () => {
    const c = await startTestCoordinator(dialect!);
    const user = await userWithGroup(c, 'alice');
    const create = (url: string) =>
      c.api('POST', '/api/v4/projects', {
        token: user.token,
        body: {
          name: 'p',
          path: `p${Math.floor(Math.random() * 1e9)}`,
          namespace_id: user.groupId,
          repository_url: url,
        },
      });
    for (const url of [
      'git://example.com/app.git',
      'ext::sh -c id',
      'ftp://example.com/app.git',
      'relative/dir',
      '-u',
      // Hosts libcurl could read otherwise than the check did.
      'http://0x7f000001/app.git',
      'http://example.com\\@127.0.0.1/app.git',
      'http://a@b@127.0.0.1/app.git',
    ]) {
      const answer = await create(url);
      assert.equal(answer.status, 400, url);
      assert.match(answer.body.message, /must be an https:\/\/, http:\/\/ or ssh:\/\/ URL/, url);
    }
    for (const url of [
      'http://127.0.0.1/app.git',
      'http://localhost:8080/app.git',
      'https://[::1]/app.git',
      'http://[::ffff:7f00:1]/app.git',
      'http://169.254.169.254/latest/meta-data/',
      'https://10.1.2.3/app.git',
      'ssh://git@192.168.0.10/app.git',
      'git@172.16.0.1:group/app.git',
      'http://0.0.0.0:8080/',
      'https://100.64.0.1/app.git',
    ]) {
      const answer = await create(url);
      assert.equal(answer.status, 400, url);
      assert.match(answer.body.message, /requests to the local network are not allowed/, url);
    }
    const userPart = await create('ssh://-oProxyCommand=x@example.com/app.git');
    assert.equal(userPart.status, 400);
  });

  it('lets users use directories of TESSERA_REPOSITORY_ALLOW_LOCAL, not links out of them', async () => {
    const allowed = await mkdtemp(join(tmpdir(), 'tessera-allowed-'));
    after(() => rm(allowed, { recursive: true, force: true }));
    const outside = await makeRepository({ '.gitlab-ci.yml': 'job: { script: [true] }\n' });
    await symlink(outside.path, join(allowed, 'link'));
    const inside = join(allowed, 'inside');
    const c = await startTestCoordinator(dialect!, { repositoryAllowLocal: allowed });
    const user = await userWithGroup(c, 'bob');
    const create = (path: string, url: string) =>
      c.api('POST', '/api/v4/projects', {
        token: user.token,
        body: { name: path, namespace_id: user.groupId, repository_url: url },
      });
    assert.equal((await create('in', inside)).status, 201);
    assert.equal((await create('file', `file://${inside}`)).status, 201);
    assert.equal((await create('link', join(allowed, 'link'))).status, 400, 'a link that leads out');
    assert.equal((await create('up', join(allowed, '..', 'x'))).status, 400);
  });

  it('allows the local network only when TESSERA_ALLOW_LOCAL_NETWORK is on, and never shows credentials', async () => {
    const c = await startTestCoordinator(dialect!, { allowLocalNetwork: true, repositoryAllowHttp: false });
    const user = await userWithGroup(c, 'carol');
    const created = await c.api('POST', '/api/v4/projects', {
      token: user.token,
      body: {
        name: 'p',
        namespace_id: user.groupId,
        repository_url: 'https://ci:s3cret@127.0.0.1:9/app.git',
      },
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.repository_url, 'https://127.0.0.1:9/app.git');
    assert.ok(
      !JSON.stringify((await c.api('GET', `/api/v4/projects/${created.body.id}`)).body).includes('s3cret'),
    );
    const http = await c.api('POST', '/api/v4/projects', {
      token: user.token,
      body: { name: 'q', namespace_id: user.groupId, repository_url: 'http://127.0.0.1:9/app.git' },
    });
    assert.equal(http.status, 400);
    assert.match(http.body.message, /http:\/\/ is turned off/);
  });
});

describe('can_create_group', () => {
  it('follows TESSERA_USERS_CAN_CREATE_GROUP for new users, per user, and never stops administrators', async () => {
    const c = await startTestCoordinator(dialect!, { usersCanCreateGroup: false });
    const newUser = async (username: string, body: Record<string, unknown> = {}) => {
      const user = await c.api('POST', '/api/v4/users', {
        body: { username, email: `${username}@example.com`, name: username, ...body },
      });
      const token = await c.api('POST', `/api/v4/users/${user.body.id}/personal_access_tokens`, {
        body: { name: 't', scopes: ['api'] },
      });
      return { user: user.body, token: token.body.token as string };
    };
    const dave = await newUser('dave');
    assert.equal(dave.user.can_create_group, false);
    const refused = await c.api('POST', '/api/v4/groups', {
      token: dave.token,
      body: { name: 'd', path: 'd' },
    });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error, 'ERR_FORBIDDEN');
    const erin = await newUser('erin', { can_create_group: true });
    assert.equal(
      (await c.api('POST', '/api/v4/groups', { token: erin.token, body: { name: 'e', path: 'e' } })).status,
      201,
    );
    assert.equal((await c.api('POST', '/api/v4/groups', { body: { name: 'a', path: 'a' } })).status, 201);
  });
});
