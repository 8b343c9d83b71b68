import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildDiscoveryDocument, issuerEndpoint } from '../../src/oidc/discovery.js';
import { CLAIM_NAMES } from '../../src/token/claims.js';

describe('buildDiscoveryDocument', () => {
  it('describes an issuer at the root', () => {
    assert.deepEqual(
      buildDiscoveryDocument({ issuer: 'https://ci.example.com', algorithms: ['RS256', 'ES256'] }),
      {
        issuer: 'https://ci.example.com',
        jwks_uri: 'https://ci.example.com/oauth/discovery/keys',
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256', 'ES256'],
        claims_supported: [...CLAIM_NAMES],
        introspection_endpoint: 'https://ci.example.com/oauth/introspect',
      },
    );
  });

  it('keeps a path prefix and the issuer byte for byte', () => {
    const document = buildDiscoveryDocument({
      issuer: 'https://example.com:8443/tools/tessera',
      algorithms: ['ES256'],
    });
    assert.equal(document.issuer, 'https://example.com:8443/tools/tessera');
    assert.equal(document.jwks_uri, 'https://example.com:8443/tools/tessera/oauth/discovery/keys');
    assert.equal(document.introspection_endpoint, 'https://example.com:8443/tools/tessera/oauth/introspect');
    assert.deepEqual(document.id_token_signing_alg_values_supported, ['ES256']);
  });

  it('lists every claim a token can carry', () => {
    const claims = buildDiscoveryDocument({ issuer: 'http://localhost:8080' }).claims_supported;
    for (const name of [
      'sub',
      'project_path',
      'ref_protected',
      'runner_id',
      'ci_config_ref_uri',
      'environment_action',
    ]) {
      assert.ok(claims.includes(name), name);
    }
  });

  it('refuses issuers that cannot be an exact iss', () => {
    for (const issuer of [
      'ci.example.com',
      'https://ci.example.com/',
      'https://ci.example.com?x=1',
      'ftp://x',
      'https://a#b',
    ]) {
      assert.throws(() => issuerEndpoint(issuer, '/x'), TypeError, issuer);
    }
    assert.throws(() => buildDiscoveryDocument({ issuer: 'https://x', algorithms: [] }), TypeError);
  });
});
