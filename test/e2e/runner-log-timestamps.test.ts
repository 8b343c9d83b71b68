// End to end: a real runner process (`tessera runner`) against a real coordinator writes GitLab
// Runner's FF_TIMESTAMPS prefixes into the trace the API answers, masks secrets before it prefixes
// (also a secret the script writes in two parts), and leaves them out for a job that says so.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeRepository } from '../runner/git-repository.js';
import { useServeAndRunner } from './runner-harness.js';

const PREFIX = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z [0-9a-f]{2}[OE][ +]/;
const SECRET = 'e2e-masked-value-7f3a9c';

const { root, coordinator } = useServeAndRunner('log-timestamps');

describe('job log timestamps from a runner process', () => {
  it('prefixes every line of the trace, masking intact, and none with FF_TIMESTAMPS false', async () => {
    const dir = join(root, 'repos', 'stamped');
    makeRepository(dir, {
      '.gitlab-ci.yml': `
stamped:
  script:
    - echo "whole $MY_SECRET"
    - printf "split %s" "\${MY_SECRET:0:11}"; sleep 0.3; printf "%s\\n" "\${MY_SECRET:11}"
    - echo "on stderr" >&2
plain:
  variables:
    FF_TIMESTAMPS: "false"
  script:
    - echo "no prefix here"
`,
    });
    const id = await coordinator.createProject('stamped', dir);
    // A masked project variable, as a user marks one.
    await coordinator.api('POST', `/projects/${id}/variables`, {
      key: 'MY_SECRET',
      value: SECRET,
      masked: true,
    });
    const pipeline = await coordinator.createPipeline(id);
    const stamped = await coordinator.waitForJob(id, pipeline.id, 'stamped', ['success', 'failed']);
    const raw = await coordinator.rawTrace(id, stamped.id);
    assert.equal(stamped.status, 'success', raw);
    assert.ok(!raw.includes(SECRET) && !raw.includes(SECRET.slice(0, 11)), raw);
    const lines = raw.replace(/\n$/, '').split('\n');
    for (const line of lines) assert.match(line, PREFIX, line);
    assert.match(raw, /Z 00O Running with tessera runner/);
    assert.match(raw, /Z 01O whole \[MASKED\]\n/);
    assert.match(raw, /Z 01O split \[MASKED\]\n/);
    assert.match(raw, /Z 01[OE] on stderr\n/);
    assert.match(raw, /Z 00O Job succeeded\n$/);
    const plain = await coordinator.waitForJob(id, pipeline.id, 'plain', ['success', 'failed']);
    const plainLog = await coordinator.rawTrace(id, plain.id);
    assert.match(plainLog, /^Running with tessera runner/);
    assert.match(plainLog, /\nno prefix here\n/);
    assert.doesNotMatch(plainLog, PREFIX);
  });
});
