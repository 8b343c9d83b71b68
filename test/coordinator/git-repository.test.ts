import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { GitRepositoryReader } from '../../src/coordinator/git-repository.js';
import { isTesseraError } from '../../src/errors.js';
import { makeRepository } from './git-fixture.js';

const dataDir = await mkdtemp(join(tmpdir(), 'tessera-git-reader-'));
after(() => rm(dataDir, { recursive: true, force: true }));

/** Every file under `dir` (relative paths), to see what a cache holds. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1));
}

describe('GitRepositoryReader', () => {
  it('resolves a branch, fetches its commit into a cache and reads a file and the commit there', async () => {
    const repo = await makeRepository({ '.gitlab-ci.yml': 'job: { script: [true] }\n' });
    const reader = new GitRepositoryReader(join(dataDir, 'fetching'));
    const ref = await reader.resolveRef(repo.path, 'main');
    assert.deepEqual(ref, {
      name: 'main',
      type: 'branch',
      fullRef: 'refs/heads/main',
      sha: repo.git('rev-parse', 'HEAD'),
    });
    const cache = await reader.fetch(repo.path, ref);
    assert.ok(
      (await filesUnder(join(cache, 'objects'))).some((file) => !file.startsWith('info')),
      'objects copied',
    );
    assert.equal(await reader.readFile(cache, ref.sha, '.gitlab-ci.yml'), 'job: { script: [true] }\n');
    assert.equal(await reader.readFile(cache, ref.sha, 'missing.yml'), undefined);
    assert.equal((await reader.commitInfo(cache, ref.sha)).message, 'first');
    // One process for both, answering what the two separate reads answer.
    assert.deepEqual(await reader.readCommitAndFile(cache, ref.sha, '.gitlab-ci.yml'), {
      commit: await reader.commitInfo(cache, ref.sha),
      content: 'job: { script: [true] }\n',
    });
    assert.deepEqual(await reader.readCommitAndFile(cache, ref.sha, 'missing.yml'), {
      commit: await reader.commitInfo(cache, ref.sha),
      content: undefined,
    });
    assert.equal((await reader.readCommitAndFile(cache, ref.sha, '../outside.yml')).content, undefined);
    await assert.rejects(
      reader.resolveRef(repo.path, 'no-such-branch'),
      (error) => isTesseraError(error) && error.code === 'ERR_GIT_REF_NOT_FOUND',
    );
  });

  it("borrows a local repository's objects in place: its commits are read with nothing copied", async () => {
    const repo = await makeRepository({ '.gitlab-ci.yml': 'first: { script: [true] }\n' });
    const reader = new GitRepositoryReader(join(dataDir, 'borrowing'));
    const objects = join(repo.path, '.git', 'objects');
    await reader.borrowObjects(repo.path, objects, 'sha1');
    // A commit made after the cache exists is there too: the objects are the repository's own.
    const sha = await repo.commit({ '.gitlab-ci.yml': 'second: { script: [true] }\n' }, 'second');
    const ref = await reader.resolveRef(repo.path, 'main');
    assert.equal(ref.sha, sha);
    const cache = await reader.fetch(repo.path, ref);
    assert.deepEqual(await filesUnder(join(cache, 'objects')), [join('info', 'alternates')]);
    assert.equal(await readFile(join(cache, 'objects', 'info', 'alternates'), 'utf8'), `${objects}\n`);
    assert.equal(await reader.readFile(cache, sha, '.gitlab-ci.yml'), 'second: { script: [true] }\n');
    // An existing cache is left as it is.
    await reader.borrowObjects(repo.path, join(dataDir, 'elsewhere'), 'sha1');
    assert.equal(await readFile(join(cache, 'objects', 'info', 'alternates'), 'utf8'), `${objects}\n`);
  });
});
