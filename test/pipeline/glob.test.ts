import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileGlob } from '../../src/pipeline/glob.js';

function matches(glob: string, path: string): boolean {
  const compiled = compileGlob(glob);
  if ('error' in compiled) throw new Error(compiled.error);
  return compiled.matcher(path).matches();
}

describe('compileGlob (Ruby fnmatch with FNM_PATHNAME | FNM_DOTMATCH | FNM_EXTGLOB, as GitLab)', () => {
  it('keeps * and ? inside one directory', () => {
    assert.equal(matches('*.md', 'README.md'), true);
    assert.equal(matches('*.md', 'docs/README.md'), false);
    assert.equal(matches('src/?.ts', 'src/a.ts'), true);
    assert.equal(matches('src/?.ts', 'src/ab.ts'), false);
    assert.equal(matches('**.yml', 'ci/a.yml'), false, '** not followed by / is a *');
  });

  it('lets **/ cross any number of directories, none included', () => {
    assert.equal(matches('**/*.md', 'README.md'), true);
    assert.equal(matches('**/*.md', 'a/b/c.md'), true);
    assert.equal(matches('docs/**/*', 'docs/a'), true);
    assert.equal(matches('docs/**/*', 'docs/x/y/z'), true);
    assert.equal(matches('docs/**/*', 'other/docs/a'), false);
  });

  it('matches dot files with * (FNM_DOTMATCH)', () => {
    assert.equal(matches('*', '.env'), true);
    assert.equal(matches('**/*.yml', '.gitlab/ci.yml'), true);
  });

  it('reads classes, alternatives and escapes', () => {
    assert.equal(matches('[ab].ts', 'a.ts'), true);
    assert.equal(matches('[!ab].ts', 'a.ts'), false);
    assert.equal(matches('[!ab].ts', 'c.ts'), true);
    assert.equal(matches('src/*.{ts,js}', 'src/x.js'), true);
    assert.equal(matches('src/*.{ts,js}', 'src/x.py'), false);
    assert.equal(matches('a\\*b', 'a*b'), true);
    assert.equal(matches('a\\*b', 'axb'), false);
    assert.equal(matches('a.b', 'axb'), false, 'a dot is literal');
  });

  it('answers an error for an unclosed alternative', () => {
    assert.ok('error' in compileGlob('src/{a,b'));
  });
});
