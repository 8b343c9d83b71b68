import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startTestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';

const [sqlite] = testDialects();

describe('OIDC routes', () => {
  it('serves discovery and a cacheable JWKS with an ETag (304 on a match)', async () => {
    const c = await startTestCoordinator(sqlite!, { issuer: 'http://127.0.0.1:0', jwksCachePeriod: 300 });
    const issuer = c.server.issuer;
    const discovery = await fetch(`${issuer}/.well-known/openid-configuration`);
    assert.equal(discovery.status, 200);
    const document = (await discovery.json()) as Record<string, unknown>;
    assert.equal(document.issuer, issuer);
    assert.equal(document.jwks_uri, `${issuer}/oauth/discovery/keys`);
    assert.equal(document.introspection_endpoint, `${issuer}/oauth/introspect`);
    assert.deepEqual(document.id_token_signing_alg_values_supported, ['RS256', 'ES256']);
    const jwks = await fetch(`${issuer}/oauth/discovery/keys`);
    assert.equal(jwks.headers.get('cache-control'), 'public, max-age=300');
    const etag = jwks.headers.get('etag');
    assert.ok(etag);
    const keys = ((await jwks.json()) as { keys: Array<Record<string, unknown>> }).keys;
    assert.ok(keys.length >= 2);
    assert.ok(
      keys.every((key) => !('d' in key) && !('p' in key)),
      'public members only',
    );
    assert.equal(jwks.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(jwks.headers.get('content-type'), 'application/json; charset=utf-8');
    const again = await fetch(`${issuer}/oauth/discovery/keys`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get('etag'), etag);
    assert.equal(again.headers.get('cache-control'), 'public, max-age=300');
    assert.equal(again.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(await again.text(), '');
    const head = await fetch(`${issuer}/oauth/discovery/keys`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('etag'), etag);
    assert.equal(await head.text(), '');
    const rotated = await c.api('POST', '/api/v4/admin/signing_keys/rotate', {
      body: { alg: 'RS256', force: true },
    });
    assert.equal(rotated.status, 201);
    const changed = await fetch(`${issuer}/oauth/discovery/keys`, { headers: { 'if-none-match': etag } });
    assert.equal(changed.status, 200, 'a rotation changes the ETag');
    assert.notEqual(changed.headers.get('etag'), etag);
  });

  it('serves everything under an issuer with a path prefix, and tokens carry that issuer', async () => {
    const c = await startTestCoordinator(sqlite!, { issuer: 'http://127.0.0.1:0/tessera/oidc' });
    const issuer = c.server.issuer;
    assert.match(issuer, /^http:\/\/127\.0\.0\.1:\d+\/tessera\/oidc$/);
    const document = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    assert.equal(document.issuer, issuer);
    assert.equal(document.jwks_uri, `${issuer}/oauth/discovery/keys`);
    assert.equal((await fetch(`${issuer}/oauth/discovery/keys`)).status, 200);
    const introspect = await fetch(`${issuer}/oauth/introspect`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Bearer ${c.adminToken}`,
      },
      body: 'token=abc',
    });
    assert.deepEqual(await introspect.json(), { active: false });
    const missing = await fetch(`${issuer}/oauth/introspect`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Bearer ${c.adminToken}`,
      },
      body: '',
    });
    assert.equal(missing.status, 400);
  });
});
