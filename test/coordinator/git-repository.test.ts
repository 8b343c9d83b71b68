import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { GitRepositoryReader } from '../../src/coordinator/git-repository.js';
import { isTesseraError } from '../../src/errors.js';
import { makeRepository } from './git-fixture.js';

const dataDir = await mkdtemp(join(tmpdir(), 'tessera-git-reader-'));
/** The instance defaults: no local network, http allowed. */
const RULES = { repositoryAllowLocal: '', repositoryAllowHttp: true, allowLocalNetwork: false };
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
    const reader = new GitRepositoryReader(join(dataDir, 'fetching'), RULES);
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
    const reader = new GitRepositoryReader(join(dataDir, 'borrowing'), RULES);
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

  it('says only that it failed when a local path is no repository, whether or not it exists', async () => {
    const reader = new GitRepositoryReader(join(dataDir, 'failing'), RULES);
    const messages = [];
    for (const path of [join(dataDir, 'no-such-directory'), dataDir, '/etc/passwd']) {
      const error = await reader.resolveRef(path, 'main').catch((caught: unknown) => caught);
      assert.ok(isTesseraError(error) && error.code === 'ERR_GIT_FAILED');
      messages.push(error.message);
    }
    assert.equal(new Set(messages).size, 1, messages.join(' | '));
    assert.doesNotMatch(messages[0] ?? '', /passwd|exist|directory|permission/i);
  });

  it('checks the host before every git command and refuses the local network after DNS', async () => {
    const reader = new GitRepositoryReader(join(dataDir, 'network'), RULES);
    for (const url of [
      'http://127.0.0.1:1/app.git',
      'http://localhost:1/app.git',
      'https://[::ffff:127.0.0.1]/app.git',
      'http://169.254.169.254/latest/meta-data',
      'ssh://git@10.0.0.1/app.git',
      'git@192.168.1.1:app.git',
    ]) {
      await assert.rejects(
        reader.resolveRef(url, 'main'),
        (error) =>
          isTesseraError(error) &&
          error.code === 'ERR_REPOSITORY_URL_BLOCKED' &&
          /local network/.test(error.message),
        url,
      );
    }
    await assert.rejects(
      reader.resolveRef('git://example.com/app.git', 'main'),
      (error) => isTesseraError(error) && error.code === 'ERR_REPOSITORY_URL_BLOCKED',
    );
    const noHttp = new GitRepositoryReader(join(dataDir, 'no-http'), {
      ...RULES,
      repositoryAllowHttp: false,
    });
    await assert.rejects(
      noHttp.resolveRef('http://example.com/app.git', 'main'),
      (error) => isTesseraError(error) && /http:\/\/ is turned off/.test(error.message),
    );
  });

  it('follows no HTTP redirect, so a redirect cannot lead git to an address that was not checked', async () => {
    let redirectTargetHit = false;
    const target = createServer((_request, response) => {
      redirectTargetHit = true;
      response.writeHead(404).end();
    });
    const redirecting = createServer((request, response) => {
      const port = (target.address() as AddressInfo).port;
      response.writeHead(302, { location: `http://127.0.0.1:${port}${request.url}` }).end();
    });
    for (const server of [target, redirecting]) {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      after(() => server.close());
    }
    // The local network is allowed here only because the test servers are on loopback.
    const reader = new GitRepositoryReader(join(dataDir, 'redirects'), { ...RULES, allowLocalNetwork: true });
    const port = (redirecting.address() as AddressInfo).port;
    await assert.rejects(
      reader.resolveRef(`http://127.0.0.1:${port}/app.git`, 'main'),
      (error) => isTesseraError(error) && error.code === 'ERR_GIT_FAILED',
    );
    assert.equal(redirectTargetHit, false, 'git did not follow the redirect');
  });
});
