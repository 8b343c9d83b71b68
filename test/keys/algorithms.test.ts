import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveAlgorithm, SIGNING_ALGORITHMS } from '../../src/keys/algorithms.js';

describe('signing algorithms', () => {
  it('resolves RS256 and ES256', () => {
    assert.equal(resolveAlgorithm('RS256'), SIGNING_ALGORITHMS.RS256);
    assert.equal(resolveAlgorithm('ES256').dsaEncoding, 'ieee-p1363');
  });

  for (const name of ['none', 'HS256', 'EdDSA', 'rs256', '', undefined, 42]) {
    it(`refuses ${JSON.stringify(name)}`, () => {
      assert.throws(() => resolveAlgorithm(name), { code: 'ERR_KEYS_ALGORITHM_UNSUPPORTED' });
    });
  }
});
