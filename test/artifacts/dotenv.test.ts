import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDotenv } from '../../src/artifacts/dotenv.js';

describe('parseDotenv (GitLab reports:dotenv)', () => {
  it('reads KEY=VALUE lines, dropping quotes, blank lines and comments', () => {
    assert.deepEqual(parseDotenv(Buffer.from('A=1\n\n# note\nB = "two words"\nC=\'x=y\'\nD=\n')), {
      A: '1',
      B: 'two words',
      C: 'x=y',
      D: '',
    });
  });

  it('refuses bad names, lines without =, more than 20 variables and more than 5 KB', () => {
    assert.throws(() => parseDotenv(Buffer.from('BAD-NAME=1')), /not a variable name/);
    assert.throws(() => parseDotenv(Buffer.from('JUSTTEXT')), /line 1 is not KEY=VALUE/);
    const many = Array.from({ length: 21 }, (_, index) => `V${index}=x`).join('\n');
    assert.throws(() => parseDotenv(Buffer.from(many)), /at most 20/);
    assert.throws(() => parseDotenv(Buffer.alloc(6000, 'A')), /5 KB/);
  });
});
