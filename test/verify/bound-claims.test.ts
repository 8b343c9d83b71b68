import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileBoundClaims, globMatch } from '../../src/verify/bound-claims.js';

describe('globMatch (Vault go-glob semantics)', () => {
  const cases: [string, string, boolean][] = [
    ['main', 'main', true],
    ['main', 'mainx', false],
    ['*', '', true],
    ['*', 'anything/at:all', true],
    ['acme/*', 'acme/platform/api', true],
    ['acme/*', 'acme', false],
    ['*/api', 'acme/platform/api', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'acb', false],
    ['ab*ba', 'aba', false],
    ['**', 'x', true],
    ['release-*', 'release-1.2', true],
    ['release-?', 'release-1', false],
  ];
  for (const [pattern, subject, expected] of cases) {
    it(`${JSON.stringify(pattern)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(subject)}`, () => {
      assert.equal(globMatch(pattern, subject), expected);
    });
  }

  it('stays linear on adversarial input', () => {
    const started = process.hrtime.bigint();
    assert.equal(globMatch(`${'*a'.repeat(2000)}b`, 'a'.repeat(100_000)), false);
    assert.ok(process.hrtime.bigint() - started < 2_000_000_000n);
  });
});

describe('compileBoundClaims', () => {
  it('turns values into strings and JSON pointers into paths', () => {
    assert.deepEqual(compileBoundClaims({ runner_id: 5, '/a~1b/c~0d': ['x', true] }), [
      { name: 'runner_id', path: ['runner_id'], values: ['5'] },
      { name: '/a~1b/c~0d', path: ['a/b', 'c~d'], values: ['x', 'true'] },
    ]);
  });
});
