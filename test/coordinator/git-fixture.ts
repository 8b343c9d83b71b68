import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after } from 'node:test';

const IDENTITY = [
  '-c',
  'user.name=t',
  '-c',
  'user.email=t@t.invalid',
  '-c',
  'commit.gpgsign=false',
  '-c',
  'tag.gpgsign=false',
];

/** A real git repository in a temporary directory (removed when the test file ends). */
export interface GitFixture {
  path: string;
  /** Writes `files` and commits them on the current branch; answers the commit sha. */
  commit(files: Record<string, string>, message?: string): Promise<string>;
  git(...args: string[]): string;
}

/** Creates a repository on branch `main` with a first commit of `files`. */
export async function makeRepository(files: Record<string, string>): Promise<GitFixture> {
  const path = await mkdtemp(join(tmpdir(), 'tessera-repo-'));
  after(() => rm(path, { recursive: true, force: true }));
  const git = (...args: string[]) =>
    execFileSync('git', [...IDENTITY, ...args], { cwd: path, encoding: 'utf8' }).trim();
  git('init', '--quiet', '--initial-branch=main');
  const fixture: GitFixture = {
    path,
    git,
    async commit(changes, message = 'change') {
      for (const [name, content] of Object.entries(changes)) {
        await mkdir(dirname(join(path, name)), { recursive: true });
        await writeFile(join(path, name), content);
      }
      git('add', '-A');
      git('commit', '--quiet', '--allow-empty', '-m', message);
      return git('rev-parse', 'HEAD');
    },
  };
  await fixture.commit(files, 'first');
  return fixture;
}
