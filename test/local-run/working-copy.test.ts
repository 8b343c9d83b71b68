import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isTesseraError } from '../../src/errors.js';
import { inspectWorkingCopy } from '../../src/local-run/working-copy.js';

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t.invalid', ...args], {
    cwd,
    encoding: 'utf8',
  }).trim();
}

describe('inspectWorkingCopy', () => {
  let parent: string;
  let repo: string;

  before(async () => {
    parent = await realpath(await mkdtemp(join(tmpdir(), 'tessera-working-copy-')));
    repo = join(parent, 'repo');
    git(parent, 'init', '-q', '-b', 'main', repo);
    await writeFile(join(repo, '.gitlab-ci.yml'), 'job: { script: [true] }\n');
    git(repo, 'add', '.');
    git(repo, 'commit', '-qm', 'init');
    git(repo, 'branch', 'develop');
  });

  after(() => rm(parent, { recursive: true, force: true }));

  it('finds the top level, the branch at HEAD, its commit, a clean tree and main as default branch', async () => {
    await mkdir(join(repo, 'sub'), { recursive: true });
    const copy = await inspectWorkingCopy(join(repo, 'sub'));
    assert.deepEqual(copy, {
      root: repo,
      objectsDir: join(repo, '.git', 'objects'),
      ref: 'main',
      headSha: git(repo, 'rev-parse', 'HEAD'),
      refIsHead: true,
      dirty: false,
      defaultBranch: 'main',
    });
  });

  it('gives a linked worktree the object directory of the repository it belongs to', async () => {
    const worktree = join(parent, 'worktree');
    git(repo, 'worktree', 'add', '-q', worktree, 'develop');
    try {
      const copy = await inspectWorkingCopy(worktree);
      assert.equal(copy.root, worktree);
      assert.equal(copy.ref, 'develop');
      assert.equal(copy.objectsDir, join(repo, '.git', 'objects'));
    } finally {
      git(repo, 'worktree', 'remove', '--force', worktree);
    }
  });

  it('reports untracked files as dirty, and --ref as not HEAD', async () => {
    await writeFile(join(repo, 'notes.txt'), 'x\n');
    try {
      const copy = await inspectWorkingCopy(repo, 'develop');
      assert.equal(copy.dirty, true);
      assert.equal(copy.ref, 'develop');
      assert.equal(copy.refIsHead, false);
    } finally {
      await rm(join(repo, 'notes.txt'));
    }
  });

  it("takes a clone's default branch from origin's HEAD", async () => {
    const upstream = join(parent, 'upstream');
    git(parent, 'clone', '-q', '--bare', repo, upstream);
    git(upstream, 'symbolic-ref', 'HEAD', 'refs/heads/develop');
    const clone = join(parent, 'clone');
    git(parent, 'clone', '-q', upstream, clone);
    git(clone, 'checkout', '-q', 'main');
    const copy = await inspectWorkingCopy(clone);
    assert.equal(copy.ref, 'main');
    assert.equal(copy.defaultBranch, 'develop');
  });

  it('falls back to the branch being run when neither origin, main nor master is known', async () => {
    const other = join(parent, 'other');
    git(parent, 'init', '-q', '-b', 'trunk', other);
    git(other, 'commit', '-q', '--allow-empty', '-m', 'init');
    assert.equal((await inspectWorkingCopy(other)).defaultBranch, 'trunk');
  });

  it('refuses a detached HEAD without --ref, a repository without commits and a plain directory', async () => {
    const detached = join(parent, 'detached');
    git(parent, 'clone', '-q', repo, detached);
    git(detached, 'checkout', '-q', '--detach', 'HEAD');
    const code = (expected: string) => (error: unknown) => isTesseraError(error) && error.code === expected;
    await assert.rejects(inspectWorkingCopy(detached), code('ERR_LOCAL_RUN_NO_REF'));
    assert.equal((await inspectWorkingCopy(detached, 'main')).ref, 'main');
    const empty = join(parent, 'empty');
    git(parent, 'init', '-q', empty);
    await assert.rejects(inspectWorkingCopy(empty), code('ERR_LOCAL_RUN_NO_REF'));
    const plain = join(parent, 'plain');
    await mkdir(plain);
    await assert.rejects(inspectWorkingCopy(plain), code('ERR_LOCAL_RUN_NOT_A_REPOSITORY'));
  });
});
