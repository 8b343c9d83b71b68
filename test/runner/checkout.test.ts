import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkout, warmCache } from '../../src/runner/checkout.js';
import { makeRepository } from './git-repository.js';

const root = await mkdtemp(join(tmpdir(), 'tessera-checkout-'));
after(() => rm(root, { recursive: true, force: true }));

describe('warmCache', () => {
  it('fetches the commit ahead, so checkouts (also concurrent ones) fetch nothing', async () => {
    const repo = join(root, 'repo');
    const sha = makeRepository(repo, { 'README.md': 'hello\n' });
    const cacheDir = join(root, 'cache');
    await warmCache({ repoUrl: repo, sha, cacheDir });
    const logs: string[][] = [[], [], []];
    await Promise.all(
      logs.map((log, index) =>
        checkout({
          repoUrl: repo,
          sha,
          ref: 'main',
          cacheDir,
          projectDir: join(root, `build-${index}`, 'project'),
          onLog: (line) => log.push(line),
        }),
      ),
    );
    for (const [index, log] of logs.entries()) {
      assert.ok(!log.some((line) => line.startsWith('Fetching changes')), log.join('\n'));
      assert.equal(await readFile(join(root, `build-${index}`, 'project', 'README.md'), 'utf8'), 'hello\n');
    }
  });

  it("makes a cache that borrows a local repository's objects: checkouts work, nothing is copied", async () => {
    const repo = join(root, 'repo-borrowed');
    const sha = makeRepository(repo, { 'README.md': 'borrowed\n' });
    const cacheDir = join(root, 'cache-borrowing');
    const objects = join(repo, '.git', 'objects');
    await warmCache({ repoUrl: repo, sha, cacheDir, borrowObjectsFrom: objects });
    const log: string[] = [];
    const projectDir = join(root, 'build-borrowed', 'project');
    await checkout({ repoUrl: repo, sha, cacheDir, projectDir, onLog: (line) => log.push(line) });
    assert.ok(!log.some((line) => line.startsWith('Fetching changes')), log.join('\n'));
    assert.equal(await readFile(join(projectDir, 'README.md'), 'utf8'), 'borrowed\n');
    const [cache] = (await readdir(cacheDir)).map((name) => join(cacheDir, name));
    const cached = await readdir(join(cache as string, 'objects'), { recursive: true });
    assert.deepEqual(cached.sort(), ['info', join('info', 'alternates')]);
    assert.equal(
      await readFile(join(cache as string, 'objects', 'info', 'alternates'), 'utf8'),
      `${objects}\n`,
    );
  });

  it('leaves a repository it cannot fetch to the checkout to report', async () => {
    const cacheDir = join(root, 'cache-missing');
    const missing = join(root, 'no-such-repo');
    await warmCache({ repoUrl: missing, sha: 'a'.repeat(40), cacheDir });
    await assert.rejects(
      checkout({ repoUrl: missing, sha: 'a'.repeat(40), cacheDir, projectDir: join(root, 'build-x') }),
      (error: Error & { code?: string }) => error.code === 'ERR_RUNNER_CHECKOUT_FAILED',
    );
    assert.ok(!existsSync(join(root, 'build-x', 'README.md')));
  });
});
