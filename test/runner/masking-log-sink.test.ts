import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MASK_REPLACEMENT, MaskingLogSink, MIN_MASKED_LENGTH } from '../../src/runner/masking-log-sink.js';

function collect(values: string[], writes: (string | Buffer)[], maskJwts = true): string {
  const out: Buffer[] = [];
  const sink = new MaskingLogSink(values, (bytes) => out.push(Buffer.from(bytes)), { maskJwts });
  for (const write of writes) sink.write(write);
  sink.end();
  return Buffer.concat(out).toString();
}

/** The reference: replace longest-first, left to right, on the whole text at once. */
function reference(values: string[], text: string): string {
  const phrases = [...new Set(values.filter((v) => Buffer.byteLength(v) >= MIN_MASKED_LENGTH))].sort(
    (a, b) => Buffer.byteLength(b) - Buffer.byteLength(a),
  );
  let result = '';
  let index = 0;
  outer: while (index < text.length) {
    for (const phrase of phrases) {
      if (text.startsWith(phrase, index)) {
        result += MASK_REPLACEMENT;
        index += phrase.length;
        continue outer;
      }
    }
    result += text[index];
    index += 1;
  }
  return result;
}

describe('MaskingLogSink', () => {
  it('masks a value written whole', () => {
    assert.equal(collect(['hunter22'], ['pw=hunter22 ok\n']), `pw=${MASK_REPLACEMENT} ok\n`);
  });

  it('masks a value split across writes, down to one byte per write', () => {
    const text = 'before s3cr3t-value after';
    assert.equal(
      collect(['s3cr3t-value'], ['before s3cr', '3t-va', 'lue after']),
      `before ${MASK_REPLACEMENT} after`,
    );
    assert.equal(collect(['s3cr3t-value'], [...text]), `before ${MASK_REPLACEMENT} after`);
  });

  it('prefers the longest value at a position, also when the longer one arrives later', () => {
    assert.equal(collect(['abcd', 'abcdefgh'], ['xx abcd', 'efgh yy']), `xx ${MASK_REPLACEMENT} yy`);
    assert.equal(collect(['abcd', 'abcdefgh'], ['xx abcd', 'efXX']), `xx ${MASK_REPLACEMENT}efXX`);
  });

  it('does not mask values shorter than the minimum', () => {
    assert.equal(collect(['abc', ''], ['abc abc']), 'abc abc');
  });

  it('emits a held-back prefix at end when the value never completes', () => {
    assert.equal(collect(['secret-token'], ['log secret-to']), 'log secret-to');
  });

  it('masks multi-byte UTF-8 values split inside a character', () => {
    const value = 'pässwörd-ü';
    const bytes = Buffer.from(`a ${value} b`);
    const writes = [bytes.subarray(0, 4), bytes.subarray(4, 7), bytes.subarray(7)];
    assert.equal(collect([value], writes), `a ${MASK_REPLACEMENT} b`);
  });

  it('masks values added while the stream runs, including held-back bytes', () => {
    const out: Buffer[] = [];
    const sink = new MaskingLogSink(['first-secret'], (bytes) => out.push(Buffer.from(bytes)));
    sink.write('first-sec');
    sink.addValues(['first-secretive-later']);
    sink.write('retive-later and first-secret\n');
    sink.end();
    assert.equal(Buffer.concat(out).toString(), `${MASK_REPLACEMENT} and ${MASK_REPLACEMENT}\n`);
  });

  it('masks any JWT-shaped string (on-demand tokens the runner never saw), also split', () => {
    // Built at run time: a JWT-shaped literal in the repository trips the secret scanners.
    const segment = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const jwt = `${segment({ alg: 'RS256' })}.${segment({ sub: 'x' })}.${'s'.repeat(40)}`;
    assert.equal(collect([], [`token=${jwt}.\n`]), 'token=[MASKED].\n');
    const bytes = `a ${jwt} b`;
    assert.equal(collect([], [...bytes]), 'a [MASKED] b');
    assert.equal(collect([], [bytes.slice(0, 10), bytes.slice(10, 50), bytes.slice(50)]), 'a [MASKED] b');
    // Not JWTs: a bare prefix, two segments, a short signature, a non-JSON first segment.
    for (const text of [
      'eyJ',
      'eyJabc.eyJdef',
      'eyJabc.eyJdef.short',
      'abcd.eyJdef.0123456789abcdef0123',
      'key eye eyJ!',
    ]) {
      assert.equal(collect([], [text]), text);
    }
    assert.equal(collect([], [jwt], false), jwt);
  });

  it('matches the whole-text reference for any split of any text (property)', () => {
    const alphabet = fc.constantFrom('a', 'b', 'c', 'ab', 'ü', '\n', 'e', 'eyJ', '.');
    const word = fc.array(alphabet, { minLength: 1, maxLength: 8 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(
        fc.array(word, { minLength: 1, maxLength: 4 }),
        fc.array(word, { minLength: 0, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (values, textParts, cuts) => {
          const text = textParts.join('');
          const bytes = Buffer.from(text);
          const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
          const writes: Buffer[] = [];
          let last = 0;
          for (const point of [...points, bytes.length]) {
            writes.push(bytes.subarray(last, point));
            last = point;
          }
          assert.equal(collect(values, writes, false), reference(values, text));
        },
      ),
      { numRuns: 500 },
    );
  });
});
