import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildClaims } from '../../src/token/claims.js';
import type { JobTokenContext } from '../../src/token/job-token-context.js';
import { jobContext } from './fixtures/job-context.js';

const base = {
  issuer: 'https://ci.example.com',
  audience: 'https://vault.example.com',
  jti: 'j',
  iat: 1_700_000_000,
  lifetime: 600,
};

describe('buildClaims', () => {
  it('builds every DESIGN 3.2 claim with GitLab types', () => {
    const claims = buildClaims({ ...base, context: jobContext() });
    assert.deepEqual(claims, {
      iss: 'https://ci.example.com',
      sub: 'project_path:acme/platform/api:ref_type:branch:ref:main',
      aud: 'https://vault.example.com',
      jti: 'j',
      iat: 1_700_000_000,
      nbf: 1_699_999_995,
      exp: 1_700_000_600,
      namespace_id: '7',
      namespace_path: 'acme/platform',
      project_id: '22',
      project_path: 'acme/platform/api',
      project_visibility: 'private',
      user_id: '3',
      user_login: 'ada',
      user_email: 'ada@example.com',
      user_access_level: 'developer',
      pipeline_id: '101',
      pipeline_source: 'push',
      job_id: '1001',
      ref: 'main',
      ref_type: 'branch',
      ref_path: 'refs/heads/main',
      ref_protected: 'true',
      runner_id: 5,
      runner_environment: 'self-hosted',
      sha: '0123456789abcdef0123456789abcdef01234567',
      ci_config_ref_uri: 'ci.example.com/acme/platform/api//.gitlab-ci.yml@refs/heads/main',
      ci_config_sha: '0123456789abcdef0123456789abcdef01234567',
    });
  });

  it('adds environment claims only for a job with an environment', () => {
    const claims = buildClaims({
      ...base,
      context: jobContext({
        environment: { name: 'production', protected: false, tier: 'production', action: 'start' },
      }),
    });
    assert.equal(claims.environment, 'production');
    assert.equal(claims.environment_protected, 'false');
    assert.equal(claims.deployment_tier, 'production');
    assert.equal(claims.environment_action, 'start');
    assert.ok(!('environment' in buildClaims({ ...base, context: jobContext() })));
  });

  it('has null user claims without a user, tag refs, array audiences, and no config claims without a config URI', () => {
    const claims = buildClaims({
      ...base,
      audience: ['a', 'b'],
      context: jobContext({
        user: null,
        ref: { name: 'v1.0', type: 'tag', protected: false },
        ciConfigRefUri: null,
        ciConfigSha: null,
      }),
    });
    assert.equal(claims.user_id, null);
    assert.equal(claims.user_login, null);
    assert.equal(claims.user_email, null);
    assert.equal(claims.user_access_level, null);
    assert.equal(claims.ref_path, 'refs/tags/v1.0');
    assert.equal(claims.ref_protected, 'false');
    assert.deepEqual(claims.aud, ['a', 'b']);
    assert.ok(!('ci_config_ref_uri' in claims) && !('ci_config_sha' in claims));
  });

  it('refuses an incomplete context with ERR_TOKEN_CLAIMS_INVALID', () => {
    const broken: Partial<JobTokenContext>[] = [
      { job: { id: -1 } },
      { runner: { id: 1.5, environment: 'self-hosted' } },
      { sha: '' },
      { ref: { name: 'main', type: 'branch', protected: 'yes' as unknown as boolean } },
      { ref: { name: 'main', type: 'commit' as 'tag', protected: true } },
    ];
    for (const override of broken) {
      assert.throws(() => buildClaims({ ...base, context: jobContext(override) }), {
        code: 'ERR_TOKEN_CLAIMS_INVALID',
      });
    }
  });
});
