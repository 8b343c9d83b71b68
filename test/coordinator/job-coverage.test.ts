import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extractCoverage } from '../../src/coordinator/job-coverage.js';

describe('extractCoverage (GitLab: last matching line, last match, first number)', () => {
  it('takes the last line that matches, not the first', () => {
    const log = 'Coverage: 10%\nbuilding\nCoverage: 81.25%\ndone\n';
    assert.equal(extractCoverage('/Coverage: \\d+\\.?\\d*%/', log), 81.25);
  });

  it('takes the last capture group of the last match on the line', () => {
    const log = 'lines 50% branches 75.5%\n';
    assert.equal(extractCoverage('/(\\d+\\.?\\d*)%/', log), 75.5);
  });

  it('reads the first number of the matched text', () => {
    assert.equal(extractCoverage('/TOTAL +\\d+ +\\d+ +\\d+%/', 'TOTAL   120   30   75%\n'), 120);
  });

  it('answers null when nothing matches or the pattern is not a /literal/', () => {
    assert.equal(extractCoverage('/Coverage: \\d+%/', 'no numbers here\n'), null);
    assert.equal(extractCoverage('Coverage', 'Coverage 5%\n'), null);
  });

  it('honours the flags of the literal', () => {
    assert.equal(extractCoverage('/coverage: \\d+%/i', 'COVERAGE: 42%\n'), 42);
  });

  it("reads lines without the runner's time prefixes, so ^ anchors and numbers of the time do not count", () => {
    const log =
      '2026-12-06T05:27:57.123456Z 01O building\n' +
      '2026-12-06T05:27:58.000001Z 01O TOTAL   120   30   75%\n' +
      '2026-12-06T05:27:58.000002Z 00O Job succeeded\n';
    assert.equal(extractCoverage('/^TOTAL.*\\s(\\d+)%$/', log), 75);
  });
});
