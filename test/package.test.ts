import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The npm name: `tessera` on the registry is an unrelated package. */
const NAME = 'tessera-ci';

function files(dir: string, extensions: RegExp): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...files(path, extensions));
    else if (extensions.test(entry)) out.push(path);
  }
  return out;
}

describe('the npm package', () => {
  it(`is named ${NAME} in package.json and package-lock.json, and still installs the tessera command`, () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
    assert.equal(manifest.name, NAME);
    assert.equal(lock.name, NAME);
    assert.equal(lock.packages[''].name, NAME);
    assert.equal(manifest.bin.tessera, 'bin/tessera.js');
    assert.ok(manifest.exports['./verify']);
  });

  it("is never imported or run by a name that would fetch someone else's package", () => {
    const texts = [
      join(ROOT, 'README.md'),
      ...files(join(ROOT, 'docs'), /\.md$/),
      ...files(join(ROOT, 'examples'), /\.(md|mjs|js|ts|ya?ml)$/),
      ...files(join(ROOT, 'src'), /\.ts$/),
    ];
    const wrong = [
      /from ['"]tessera(\/[^'"]*)?['"]/,
      /import\(['"]tessera(\/[^'"]*)?['"]\)/,
      /`tessera\/verify`/,
      /\bnpx tessera\b/,
      /npm (i|install) (-g )?tessera\b(?!-ci)/,
    ];
    for (const path of texts) {
      const text = readFileSync(path, 'utf8');
      for (const pattern of wrong) {
        assert.ok(!pattern.test(text), `${relative(ROOT, path)} uses the package name tessera (${pattern})`);
      }
    }
  });
});
