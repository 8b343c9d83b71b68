import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { buildSubject } from '../../src/token/subject.js';
import { jobContext } from './fixtures/job-context.js';

describe('buildSubject (property)', () => {
  it('always splits back into its components, whatever the values contain', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (ref, environment) => {
        const context = jobContext({
          ref: { name: ref, type: 'branch', protected: false },
          environment: { name: environment, protected: false, tier: 'other', action: 'start' },
          project: { ...jobContext().project, subClaimComponents: ['project_id', 'ref', 'environment'] },
        });
        const parts = buildSubject(context).split(':');
        assert.equal(parts.length, 6);
        assert.deepEqual([parts[0], parts[2], parts[4]], ['project_id', 'ref', 'environment']);
        assert.equal(parts[3], ref.replaceAll(':', '%3A'));
        assert.equal(parts[5], environment.replaceAll(':', '%3A'));
      }),
      { numRuns: 300 },
    );
  });
});
