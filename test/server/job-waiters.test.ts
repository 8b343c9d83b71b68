import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JobWaiters } from '../../src/server/job-waiters.js';

const HOUR = 3_600_000;

/** Starts `count` waits on `key` and answers the flags that turn true as each is woken. */
function waitMany(waiters: JobWaiters, key: string, count: number, signal: AbortSignal) {
  const woken = Array.from({ length: count }, () => false);
  woken.forEach((_, index) => {
    void waiters.wait(key, HOUR, signal).then(() => {
      woken[index] = true;
    });
  });
  return woken;
}

describe('job waiters', () => {
  it('wakes one poll per eligibility key per new-job event, the longest waiting first, and relays on a claim', async () => {
    const waiters = new JobWaiters();
    const end = new AbortController();
    const untagged = waitMany(waiters, 'untagged', 30, end.signal);
    const gpu = waitMany(waiters, 'gpu', 5, end.signal);
    assert.equal(waiters.size, 35);

    waiters.wakeOnePerKey();
    await Promise.resolve();
    assert.deepEqual(
      [untagged.filter(Boolean).length, gpu.filter(Boolean).length],
      [1, 1],
      'not every waiting poll',
    );
    assert.equal(untagged[0], true, 'the longest waiting first');

    waiters.relay('untagged');
    await Promise.resolve();
    assert.equal(untagged.filter(Boolean).length, 2);
    assert.equal(untagged[1], true);
    assert.equal(gpu.filter(Boolean).length, 1, 'a relay stays within its key');
    assert.equal(waiters.size, 32);

    end.abort();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(waiters.size, 0, 'a hang-up leaves the queue');
    assert.ok([...untagged, ...gpu].every(Boolean));
  });

  it('wakes every poll when the server stops', async () => {
    const waiters = new JobWaiters();
    const woken = waitMany(waiters, 'a', 4, new AbortController().signal);
    waitMany(waiters, 'b', 3, new AbortController().signal);
    waiters.wakeAll();
    await Promise.resolve();
    assert.ok(woken.every(Boolean));
    assert.equal(waiters.size, 0);
  });
});
