import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTesseraError } from '../../src/errors.js';
import { checkBoundClaims, compileBoundClaims } from '../../src/verify/bound-claims.js';
import { evaluateVaultRole, parseVaultRole } from '../../src/verify/vault-role.js';

const CLAIMS = {
  iss: 'https://ci.example.com',
  sub: 'project_path:acme/app:ref_type:branch:ref:main',
  aud: 'https://vault.example.com',
  project_path: 'acme/app',
  ref: 'main',
  ref_protected: 'true',
  user_login: 'dev',
  groups: ['a', 'b'],
  nested: { deep: 'x' },
};

describe('Vault role evaluation', () => {
  it('accepts a matching role (vault read -format=json output) and lists every check', () => {
    const role = parseVaultRole(
      JSON.stringify({
        data: {
          role_type: 'jwt',
          bound_audiences: ['https://vault.example.com'],
          bound_claims: { project_path: 'acme/*', ref_protected: 'true' },
          bound_claims_type: 'glob',
          user_claim: 'user_login',
          claim_mappings: { ref: 'ref' },
        },
      }),
    );
    const verdict = evaluateVaultRole(CLAIMS, role);
    assert.equal(verdict.accepted, true);
    assert.deepEqual(
      verdict.checks.map((check) => [check.check, check.claim, check.ok]),
      [
        ['role_type', '', true],
        ['bound_audiences', 'aud', true],
        ['bound_claims (glob)', 'project_path', true],
        ['bound_claims (glob)', 'ref_protected', true],
        ['user_claim', 'user_login', true],
        ['claim_mappings', 'ref', true],
      ],
    );
  });

  it('says claim by claim why a role refuses', () => {
    const verdict = evaluateVaultRole(
      CLAIMS,
      parseVaultRole(
        JSON.stringify({
          bound_audiences: 'other',
          bound_subject: 'project_path:acme/app:ref_type:branch:ref:prod',
          bound_claims: { project_path: 'acme/*', '/nested/deep': 'y', missing: 'z' },
          user_claim: 'email',
          claim_mappings: { groups: 'groups', nested: 'n' },
        }),
      ),
    );
    assert.equal(verdict.accepted, false);
    const failed = verdict.checks.filter((check) => !check.ok).map((check) => [check.claim, check.reason]);
    assert.deepEqual(failed, [
      ['aud', 'aud claim does not match any expected audience'],
      ['sub', 'sub claim does not match bound subject'],
      [
        'project_path',
        'bound claim "project_path" is "acme/app" in the token, which does not match "acme/*"',
      ],
      ['/nested/deep', 'bound claim "/nested/deep" is "x" in the token, which does not match "y"'],
      ['missing', 'bound claim "missing" is missing from the token'],
      ['email', 'claim "email" not found in token'],
      ['groups', "error converting claim 'groups' to string"],
      ['nested', "error converting claim 'nested' to string"],
    ]);
  });

  it('refuses a token with an audience when the role binds none (Vault 1.17+)', () => {
    const verdict = evaluateVaultRole(CLAIMS, parseVaultRole('{"bound_claims":{"ref":"main"}}'));
    assert.equal(verdict.accepted, false);
    assert.equal(
      verdict.checks.find((check) => check.check === 'bound_audiences')?.reason,
      'audience claim found in JWT but no audiences bound to the role',
    );
  });

  it('agrees with the verifier on every bound claim (one implementation)', () => {
    const cases: Array<[Record<string, string | string[]>, 'string' | 'glob']> = [
      [{ project_path: 'acme/*' }, 'glob'],
      [{ project_path: 'acme/*' }, 'string'],
      [{ groups: ['c', 'b'] }, 'string'],
      [{ ref: 'mai' }, 'glob'],
    ];
    for (const [bound, type] of cases) {
      const verdict = evaluateVaultRole(
        CLAIMS,
        parseVaultRole(
          JSON.stringify({ bound_audiences: [CLAIMS.aud], bound_claims: bound, bound_claims_type: type }),
        ),
      );
      let verified = true;
      try {
        checkBoundClaims(CLAIMS, compileBoundClaims(bound), type);
      } catch {
        verified = false;
      }
      assert.equal(verdict.accepted, verified, JSON.stringify([bound, type]));
    }
  });

  it('refuses text that is not a role, naming the field', () => {
    for (const [text, pattern] of [
      ['not json', /is not JSON/],
      ['[]', /must be a JSON object/],
      ['{"bound_claims_type":"regex"}', /bound_claims_type must be "string" or "glob"/],
      ['{"bound_audiences":[1]}', /bound_audiences must be a list of strings/],
      ['{"bound_claims":"x"}', /bound_claims must be an object/],
    ] as const) {
      assert.throws(
        () => parseVaultRole(text),
        (error: unknown) =>
          isTesseraError(error) && error.code === 'ERR_VALIDATION' && pattern.test(error.message),
      );
    }
  });
});
