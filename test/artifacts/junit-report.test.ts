import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countCases, parseJunit } from '../../src/artifacts/junit-report.js';

describe('parseJunit', () => {
  it('reads test cases with their status, time, failure text and output, across concatenated documents', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment <testcase name="not one"/> -->
<testsuites><testsuite name="unit" tests="3">
  <testcase classname="math" name="adds" time="0.25"/>
  <testcase classname="math" name="divides &amp; rounds" time="1.5">
    <failure message="expected 2">AssertionError: 1 &lt; 2<![CDATA[ <raw> ]]></failure>
    <system-out>printed</system-out>
  </testcase>
  <testcase classname="io" name="reads" file="io.test.js"><skipped/></testcase>
</testsuite></testsuites>
<?xml version="1.0"?><testsuite><testcase name="boom" classname="x"><error message="crash"/></testcase></testsuite>`;
    const cases = parseJunit(xml);
    assert.deepEqual(
      cases.map((testCase) => [testCase.name, testCase.status]),
      [
        ['adds', 'success'],
        ['divides & rounds', 'failed'],
        ['reads', 'skipped'],
        ['boom', 'error'],
      ],
    );
    assert.equal(cases[1]?.stack_trace, 'expected 2\nAssertionError: 1 < 2 <raw> ');
    assert.equal(cases[1]?.system_output, 'printed');
    assert.equal(cases[2]?.file, 'io.test.js');
    assert.deepEqual(countCases(cases), {
      total_time: 1.75,
      total_count: 4,
      success_count: 1,
      failed_count: 1,
      skipped_count: 1,
      error_count: 1,
    });
  });

  it('never resolves external entities', () => {
    const cases = parseJunit(
      '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><testsuite><testcase name="&e;"/></testsuite>',
    );
    assert.equal(cases[0]?.name, '&e;');
  });
});
