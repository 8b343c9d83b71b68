import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseDuration } from '../../src/pipeline/duration.js';
import { expandVariables } from '../../src/pipeline/expand-variables.js';
import { buildRuleVariables, refSlug } from '../../src/pipeline/rule-variables.js';

describe('parseDuration', () => {
  it("reads GitLab's human durations", () => {
    const cases: [string | number, number][] = [
      ['3600', 3600],
      [90, 90],
      ['1h', 3600],
      ['1h 30m', 5400],
      ['1h30m', 5400],
      ['3 hours and 30 minutes', 12_600],
      ['90 minutes', 5400],
      ['45 mins', 2700],
      ['10 seconds', 10],
      ['2 days', 172_800],
      ['1 week', 604_800],
      ['1.5h', 5400],
      ['1:30:00', 5400],
      ['90:00', 5400],
      ['2h, 5m', 7500],
    ];
    for (const [input, seconds] of cases) assert.equal(parseDuration(input), seconds, String(input));
  });

  it('answers null for what is not a duration', () => {
    for (const input of ['', 'soon', '3 fortnights', '1h x', 'h', '-5m', '1e9h', 'x'.repeat(200)]) {
      assert.equal(parseDuration(input), null, input);
    }
  });
});

describe('expandVariables', () => {
  it('expands $NAME, the braced form and %NAME%, and $$ as a literal $', () => {
    const variables = { CI_PROJECT_PATH: 'acme/api', ENV: 'prod' };
    assert.equal(expandVariables('https://vault/$CI_PROJECT_PATH', variables), 'https://vault/acme/api');
    assert.equal(expandVariables(`$${'{'}ENV}-x`, variables), 'prod-x');
    assert.equal(expandVariables('%ENV%', variables), 'prod');
    assert.equal(expandVariables('cost: $$ENV', variables), 'cost: $ENV');
    assert.equal(expandVariables('$UNKNOWN/x', variables), '/x');
    assert.equal(expandVariables('$UNKNOWN/x', variables, { unknown: 'keep' }), '$UNKNOWN/x');
  });

  it('expands in one pass, never recursively', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (value) => {
        const result = expandVariables('$A$A', { A: value });
        assert.equal(result, `${value}${value}`);
      }),
    );
    assert.equal(expandVariables('$A', { A: '$B', B: 'x' }), '$B');
  });
});

describe('buildRuleVariables', () => {
  it("sets branch, tag and merge request variables by GitLab's presence rules", () => {
    const branch = buildRuleVariables({
      ref: 'Feature/Login',
      tag: false,
      source: 'push',
      projectPath: 'acme/web/api',
    });
    assert.equal(branch.CI_COMMIT_BRANCH, 'Feature/Login');
    assert.equal(branch.CI_COMMIT_TAG, undefined);
    assert.equal(branch.CI_COMMIT_REF_NAME, 'Feature/Login');
    assert.equal(branch.CI_COMMIT_REF_SLUG, 'feature-login');
    assert.equal(branch.CI_PIPELINE_SOURCE, 'push');
    assert.equal(branch.CI_DEFAULT_BRANCH, 'main');
    assert.equal(branch.CI_COMMIT_REF_PROTECTED, 'false');
    assert.equal(branch.CI_PROJECT_PATH, 'acme/web/api');
    assert.equal(branch.CI_PROJECT_NAME, 'api');
    assert.equal(branch.CI_PROJECT_NAMESPACE, 'acme/web');
    const tag = buildRuleVariables({ ref: 'v1.0.0', tag: true, source: 'web', refProtected: true });
    assert.deepEqual(
      [tag.CI_COMMIT_TAG, tag.CI_COMMIT_BRANCH, tag.CI_COMMIT_REF_PROTECTED],
      ['v1.0.0', undefined, 'true'],
    );
    const mr = buildRuleVariables({ ref: 'feature', tag: false, source: 'merge_request_event' });
    assert.equal(mr.CI_COMMIT_BRANCH, undefined);
  });

  it('makes ref slugs of at most 63 characters without dashes at the ends', () => {
    assert.equal(refSlug('-Release_1.2/ÄB-'), 'release-1-2--b');
    assert.equal(refSlug('a'.repeat(100)).length, 63);
  });
});
