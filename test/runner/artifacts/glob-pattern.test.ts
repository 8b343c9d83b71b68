import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileGlob, staticPrefix } from '../../../src/runner/artifacts/glob-pattern.js';

describe('compileGlob (doublestar, as GitLab Runner)', () => {
  const cases: [string, string[], string[]][] = [
    ['dist/*.js', ['dist/a.js'], ['dist/sub/a.js', 'dista.js']],
    ['dist/**/*.map', ['dist/a.map', 'dist/x/y/a.map'], ['dist/a.js', 'other/a.map']],
    ['**/report.xml', ['report.xml', 'a/b/report.xml'], ['a/report.xml.bak']],
    ['out/**', ['out/a', 'out/a/b'], ['outx/a']],
    ['file-?.txt', ['file-1.txt'], ['file-10.txt', 'file-/.txt']],
    ['{a,b}/[!x]*.txt', ['a/y.txt', 'b/z1.txt'], ['a/x.txt', 'c/y.txt']],
  ];
  for (const [pattern, yes, no] of cases) {
    it(`matches ${pattern} as doublestar does`, () => {
      const regex = compileGlob(pattern);
      for (const path of yes) assert.ok(regex.test(path), `${pattern} should match ${path}`);
      for (const path of no) assert.ok(!regex.test(path), `${pattern} should not match ${path}`);
    });
  }

  it('starts walking at the directory before the first glob segment', () => {
    assert.equal(staticPrefix('dist/**/*.map'), 'dist');
    assert.equal(staticPrefix('*.txt'), '');
    assert.equal(staticPrefix('a/b/c'), 'a/b');
  });
});
