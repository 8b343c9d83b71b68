import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stripTimestampPrefixes } from '../../src/job-log/timestamp-prefix.js';
import { LogTimestamper } from '../../src/runner/log-timestamper.js';

/** A timestamper on a frozen clock (2026-12-06T05:27:57.123456Z), and what it wrote. */
function stamper(stream = 1, type: 'O' | 'E' = 'O') {
  const out: Buffer[] = [];
  const clock = () => Date.UTC(2026, 11, 6, 5, 27, 57, 123) + 0.456;
  const timestamper = new LogTimestamper({ output: (bytes) => out.push(bytes), stream, type, clock });
  return { timestamper, text: () => Buffer.concat(out).toString() };
}

describe('LogTimestamper (gitlab-runner timestamper.Logger)', () => {
  it('prefixes each line when its newline arrives, with time, stream id and type', () => {
    const { timestamper, text } = stamper(0x1f, 'E');
    timestamper.write('one\ntw');
    assert.equal(text(), '2026-12-06T05:27:57.123456Z 1fE one\n');
    timestamper.write('o\nthree');
    timestamper.end();
    assert.equal(
      text(),
      '2026-12-06T05:27:57.123456Z 1fE one\n2026-12-06T05:27:57.123456Z 1fE two\n' +
        '2026-12-06T05:27:57.123456Z 1fE three\n',
    );
  });

  it('sends a write with a carriage return at once and marks the rest of its line with +', () => {
    const { timestamper, text } = stamper();
    timestamper.write('10%\r');
    timestamper.write('100%\n');
    assert.equal(text(), '2026-12-06T05:27:57.123456Z 01O 10%\r\n2026-12-06T05:27:57.123456Z 01O+100%\n');
  });

  it('cuts a line past 8 KiB without splitting a UTF-8 character, and reads back whole', () => {
    const { timestamper, text } = stamper();
    const line = `${'x'.repeat(8191)}é${'y'.repeat(9000)}`;
    for (let i = 0; i < line.length; i += 1000) timestamper.write(Buffer.from(line.slice(i, i + 1000)));
    timestamper.write('\n');
    const written = text();
    assert.ok(!written.includes('\ufffd'));
    assert.match(written, /\n2026-12-06T05:27:57\.123456Z 01O\+/);
    assert.equal(stripTimestampPrefixes(written), `${line}\n`);
  });
});
