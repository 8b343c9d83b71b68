import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TransientCoordinatorError } from '../../src/runner/coordinator-client.js';
import { TraceStream, utf8Boundary } from '../../src/runner/trace-stream.js';

/** A receiving end that keeps the log as text, as the coordinator does, and checks offsets. */
function receiver(options: { failFirst?: boolean; loseFirstAnswer?: boolean } = {}) {
  let text = '';
  let calls = 0;
  const chunks: number[] = [];
  const send = async (start: number, bytes: Buffer) => {
    calls += 1;
    if (options.failFirst && calls === 1) throw new TransientCoordinatorError('down');
    const length = Buffer.byteLength(text);
    if (start !== length) return { httpStatus: 416, jobStatus: 'running', remoteLength: length };
    const decoded = bytes.toString('utf8');
    assert.ok(!decoded.includes('\uFFFD'), 'a chunk split a UTF-8 character');
    text += decoded;
    chunks.push(bytes.length);
    if (options.loseFirstAnswer && calls === 1) throw new TransientCoordinatorError('answer lost');
    return { httpStatus: 202, jobStatus: 'running' };
  };
  return { send, text: () => text, chunks };
}

describe('TraceStream', () => {
  it('delivers a large log in chunks cut on UTF-8 boundaries', async () => {
    const end = receiver();
    const stream = new TraceStream({ send: end.send, intervalMs: 10, maxChunkBytes: 1000 });
    const line = 'ünïcödé line with some text\n';
    const expected = line.repeat(400);
    const bytes = Buffer.from(expected);
    for (let offset = 0; offset < bytes.length; offset += 777)
      stream.write(bytes.subarray(offset, offset + 777));
    assert.equal(await stream.flush(Date.now() + 10_000), true);
    stream.close();
    assert.equal(end.text(), expected);
    assert.ok(end.chunks.length >= bytes.length / 1000 && end.chunks.every((size) => size <= 1000));
  });

  it('retries a failed request and recovers from a lost answer through the 416 length', async () => {
    for (const options of [{ failFirst: true }, { loseFirstAnswer: true }]) {
      const end = receiver(options);
      const stream = new TraceStream({ send: end.send, intervalMs: 5 });
      stream.write(Buffer.from('first part\n'));
      await new Promise((resolve) => setTimeout(resolve, 30));
      stream.write(Buffer.from('second part\n'));
      assert.equal(await stream.flush(Date.now() + 10_000), true);
      stream.close();
      assert.equal(end.text(), 'first part\nsecond part\n');
    }
  });

  it('caps the log with a notice', async () => {
    const end = receiver();
    const stream = new TraceStream({ send: end.send, intervalMs: 5, limitBytes: 100 });
    stream.write(Buffer.from(`${'x'.repeat(99)}é`));
    stream.write(Buffer.from('ZZZZ'));
    await stream.flush(Date.now() + 10_000);
    stream.close();
    assert.match(end.text(), /^x{99}\nJob's log exceeded limit of 100 bytes/);
    assert.doesNotMatch(end.text(), /ZZZZ/);
  });

  it('finds UTF-8 character boundaries', () => {
    const bytes = Buffer.from('aé€😀');
    // a(1) é(2) €(3) 😀(4): boundaries at 0, 1, 3, 6, 10.
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((end) => utf8Boundary(bytes, end)),
      [1, 1, 3, 3, 3, 6, 6, 6, 6, 10],
    );
  });
});
