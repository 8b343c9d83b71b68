import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadPipeline } from '../../../src/pipeline/load.js';

async function environmentOf(environment: string) {
  const { spec } = await loadPipeline({
    content: `deploy:\n  script: [deploy]\n  environment: ${environment}\n`,
  });
  return spec.jobs.find((job) => job.name === 'deploy')?.environment;
}

describe('environment:', () => {
  it('keeps auto_stop_in in seconds, never as null (it clears the stop time), and nothing when not written', async () => {
    assert.equal((await environmentOf('{ name: review, auto_stop_in: 1 day }'))?.autoStopInSeconds, 86_400);
    const never = await environmentOf('{ name: review, auto_stop_in: never }');
    assert.ok(never && 'autoStopInSeconds' in never);
    assert.equal(never.autoStopInSeconds, null);
    const unwritten = await environmentOf('{ name: review }');
    assert.ok(unwritten && !('autoStopInSeconds' in unwritten));
  });
});
