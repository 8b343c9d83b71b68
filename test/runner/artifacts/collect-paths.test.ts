import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { collectPaths } from '../../../src/runner/artifacts/collect-paths.js';
import { git, makeRepository } from '../git-repository.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-collect-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('collectPaths', () => {
  it('takes globs and directories, drops excludes, and refuses what leaves the directory', async () => {
    const dir = join(root, 'project');
    makeRepository(dir, { 'README.md': 'hi\n' });
    mkdirSync(join(dir, 'dist/sub'), { recursive: true });
    writeFileSync(join(dir, 'dist/a.js'), 'a');
    writeFileSync(join(dir, 'dist/a.js.map'), 'm');
    writeFileSync(join(dir, 'dist/sub/b.js'), 'b');
    symlinkSync('/etc', join(dir, 'dist/etc'));
    symlinkSync(join(root), join(dir, 'up'));
    const lines: string[] = [];
    const entries = await collectPaths(
      dir,
      {
        paths: ['dist/', '**/*.md', '../secret', 'up/x', '$OUT'],
        exclude: ['dist/**/*.map'],
        untracked: false,
      },
      { OUT: 'nothing-here' },
      (line) => lines.push(line),
    );
    assert.deepEqual(
      entries.map((entry) => entry.name),
      ['README.md', 'dist/', 'dist/a.js', 'dist/sub/', 'dist/sub/b.js'],
    );
    assert.ok(
      lines.some((line) => /dist\/etc: symbolic link to \/etc leaves the build directory/.test(line)),
    );
    assert.ok(lines.some((line) => /\.\.\/secret: not in the build directory/.test(line)));
    assert.ok(
      lines.some((line) => /up\/x: goes through a symbolic link that leaves the build directory/.test(line)),
    );
    assert.ok(lines.some((line) => /\$OUT: no matching files/.test(line)));
  });

  it('lists untracked files without running anything the job put into .git/config', async () => {
    const dir = join(root, 'hostile');
    makeRepository(dir, { 'tracked.txt': 't\n' });
    const marker = join(root, 'fsmonitor-ran');
    const hook = join(root, 'hook.sh');
    writeFileSync(hook, `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    git(dir, ['config', 'core.fsmonitor', hook]);
    writeFileSync(join(dir, 'new.txt'), 'n');
    const entries = await collectPaths(dir, { paths: [], untracked: true }, {}, () => undefined);
    assert.deepEqual(
      entries.map((entry) => entry.name),
      ['new.txt'],
    );
    assert.equal(existsSync(marker), false);
  });
});
