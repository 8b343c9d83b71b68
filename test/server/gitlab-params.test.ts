import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTesseraError } from '../../src/errors.js';
import { parseGitLabParams, parseMultipartParams } from '../../src/server/gitlab-params.js';
import { testDialects } from '../store/dialects.js';
import { startTestCoordinator } from './harness.js';

describe('parseGitLabParams (Rack nesting)', () => {
  it('reads plain values, lists, hashes and lists of hashes as GitLab does', () => {
    assert.deepEqual(
      parseGitLabParams(
        'name=a&name=b&tag_list[]=x&tag_list[]=y&variables[KEY]=v&variables[OTHER]=w' +
          '&vars[][key]=A&vars[][value]=1&vars[][key]=B&vars[][value]=2',
      ),
      {
        name: 'b',
        tag_list: ['x', 'y'],
        variables: { KEY: 'v', OTHER: 'w' },
        vars: [
          { key: 'A', value: '1' },
          { key: 'B', value: '2' },
        ],
      },
    );
    assert.deepEqual(parseGitLabParams('a%5Bb%5D%5Bc%5D=1'), { a: { b: { c: '1' } } });
  });

  it('refuses a name that is both a value and a list, and drops __proto__', () => {
    assert.throws(
      () => parseGitLabParams('tag_list=a&tag_list[]=b'),
      (error: unknown) => isTesseraError(error) && error.code === 'ERR_VALIDATION',
    );
    const parsed = parseGitLabParams('__proto__[admin]=1&a[__proto__][x]=1');
    assert.equal(({} as Record<string, unknown>).admin, undefined);
    assert.equal(Object.getPrototypeOf(parsed), Object.prototype);
  });
});

describe('parseMultipartParams', () => {
  it('reads curl --form bodies: fields, nested names, UTF-8 and file parts', () => {
    const body = Buffer.from(
      [
        '--XyZ',
        'Content-Disposition: form-data; name="key"',
        '',
        'GREETING',
        '--XyZ',
        'Content-Disposition: form-data; name="tag_list[]"',
        '',
        'linux',
        '--XyZ',
        'Content-Disposition: form-data; name="value"; filename="v.txt"',
        'Content-Type: text/plain',
        '',
        'héllo\r\nworld',
        '--XyZ--',
        '',
      ].join('\r\n'),
      'utf8',
    );
    assert.deepEqual(parseMultipartParams(body, 'multipart/form-data; boundary=XyZ'), {
      key: 'GREETING',
      tag_list: ['linux'],
      value: 'héllo\r\nworld',
    });
    assert.throws(
      () => parseMultipartParams(body, 'multipart/form-data'),
      (error: unknown) => isTesseraError(error) && error.code === 'ERR_VALIDATION',
    );
  });
});

for (const dialect of testDialects()) {
  describe(`GitLab parameter semantics and JSON answers [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('answers Content-Type: application/json exactly, on success and on errors', async () => {
      const c = await startTestCoordinator(dialect);
      for (const [path, status] of [
        ['/api/v4/user', 200],
        ['/api/v4/nothing', 404],
        ['/api/v4/projects/999', 404],
      ] as const) {
        const answer = await c.api('GET', path);
        assert.equal(answer.status, status);
        assert.equal(answer.headers.get('content-type'), 'application/json', path);
      }
      const invalid = await c.api('POST', '/api/v4/users', { body: { username: 'x' } });
      assert.equal(invalid.status, 400);
      assert.equal(invalid.headers.get('content-type'), 'application/json');
      const unauthenticated = await c.api('GET', '/api/v4/user', { token: null });
      assert.equal(unauthenticated.status, 401);
      assert.equal(unauthenticated.headers.get('content-type'), 'application/json');
    });

    it('takes a POST parameters from its query string, form bodies with GitLab nesting, and boolean words', async () => {
      const c = await startTestCoordinator(dialect);
      const group = await c.api('POST', '/api/v4/groups?name=acme&path=acme');
      assert.equal(group.status, 201, group.text);
      assert.equal(group.body.path, 'acme');
      const project = await c.api('POST', '/api/v4/projects', {
        form: { name: 'web', namespace_id: String(group.body.id), repository_url: '/tmp/none' },
      });
      assert.equal(project.status, 201, project.text);
      // gitbeaker's ProtectedBranches.protect: everything in the query string of a POST.
      const protectedBranch = await c.api(
        'POST',
        `/api/v4/projects/${project.body.id}/protected_branches?name=main&push_access_level=40&allow_force_push=False`,
      );
      assert.equal(protectedBranch.status, 201, protectedBranch.text);
      assert.equal(protectedBranch.body.name, 'main');
      // The body wins over the query string where both name a parameter.
      const both = await c.api('POST', `/api/v4/projects/${project.body.id}/protected_tags?name=ignored`, {
        body: { name: 'v*' },
      });
      assert.equal(both.body.name, 'v*');
      const runner = await fetch(`${c.url}/api/v4/user/runners`, {
        method: 'POST',
        headers: { 'private-token': c.adminToken, 'content-type': 'application/x-www-form-urlencoded' },
        body: `runner_type=project_type&project_id=${project.body.id}&tag_list[]=linux&tag_list[]=arm&run_untagged=no&paused=YES`,
      });
      assert.equal(runner.status, 201);
      const created = (await runner.json()) as { id: number };
      const shown = await c.api('GET', `/api/v4/runners/${created.id}`);
      assert.deepEqual(shown.body.tag_list.sort(), ['arm', 'linux']);
      assert.equal(shown.body.run_untagged, false);
      assert.equal(shown.body.paused, true);
      // A word that is no boolean stays a 400 naming the field.
      const wrong = await c.api('PUT', `/api/v4/runners/${created.id}?paused=maybe`);
      assert.equal(wrong.status, 400);
      assert.match(wrong.body.message, /paused/);
      // multipart/form-data (curl --form), as GitLab's documentation sends it.
      const form = new FormData();
      form.append('key', 'MULTI');
      form.append('value', 'déjà vu');
      form.append('protected', 'yes');
      const multipart = await fetch(`${c.url}/api/v4/projects/${project.body.id}/variables`, {
        method: 'POST',
        headers: { 'private-token': c.adminToken },
        body: form,
      });
      assert.equal(multipart.status, 201, await multipart.clone().text());
      const variable = (await multipart.json()) as { key: string; value: string; protected: boolean };
      assert.deepEqual([variable.key, variable.value, variable.protected], ['MULTI', 'déjà vu', true]);
      const conflict = await fetch(`${c.url}/api/v4/user/runners`, {
        method: 'POST',
        headers: { 'private-token': c.adminToken, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'runner_type=instance_type&tag_list=a&tag_list[]=b',
      });
      assert.equal(conflict.status, 400);
      assert.equal(((await conflict.json()) as { error: string }).error, 'ERR_VALIDATION');
    });
  });
}
