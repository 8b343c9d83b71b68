import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
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
  });
}
