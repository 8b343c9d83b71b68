import { execFile } from 'node:child_process';
import { realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TesseraError } from '../errors.js';

/** What `tessera run` needs to know about the working copy it runs. */
export interface WorkingCopy {
  /** Absolute path of the repository's top-level directory (the project's `repository_url`). */
  readonly root: string;
  /** Absolute path of the repository's object directory (shared by all its worktrees). */
  readonly objectsDir: string;
  /** The branch or tag the pipeline runs for: `--ref`, or the branch checked out at HEAD. */
  readonly ref: string;
  /** The commit HEAD points to (for the dirty-tree warning). */
  readonly headSha: string;
  /** Whether {@link ref} is the branch checked out at HEAD (so uncommitted changes concern this run). */
  readonly refIsHead: boolean;
  /** Whether tracked files differ from HEAD or untracked files exist (they are not part of the run). */
  readonly dirty: boolean;
  /** The branch that plays `CI_DEFAULT_BRANCH`: origin's HEAD, else `main`/`master`, else the current branch. */
  readonly defaultBranch: string;
}

function git(cwd: string, args: readonly string[]): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolvePromise) => {
    execFile(
      'git',
      ['-c', 'safe.directory=*', ...args],
      { cwd, maxBuffer: 4 * 1024 * 1024, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', LANG: 'C' } },
      (error, stdout) => resolvePromise({ ok: !error, out: `${stdout}`.trim() }),
    );
  });
}

/**
 * Inspects the git working copy at `dir`: its top level, the ref to run (`ref`, or the branch at
 * HEAD), whether the tree is dirty, and the default branch.
 *
 * @throws TesseraError `ERR_LOCAL_RUN_NOT_A_REPOSITORY` when `dir` is not inside a git working
 * copy, `ERR_LOCAL_RUN_NO_REF` when there is no commit yet or HEAD is detached and no `ref` is given.
 */
export async function inspectWorkingCopy(dir: string, ref?: string): Promise<WorkingCopy> {
  const absolute = resolve(dir);
  const info = await stat(absolute).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new TesseraError('ERR_LOCAL_RUN_NOT_A_REPOSITORY', `${absolute} is not a directory`);
  }
  // One round of git processes at once, each finding the repository from `absolute` itself. The
  // rev-parse prints the top level, the common git directory, HEAD's commit and HEAD's branch
  // (`HEAD` when detached), one per line; before the first commit it prints the first two and fails.
  const [revParse, status, defaultBranch] = await Promise.all([
    git(absolute, [
      'rev-parse',
      '--show-toplevel',
      '--git-common-dir',
      'HEAD',
      '--symbolic-full-name',
      'HEAD',
      '--',
    ]),
    git(absolute, ['status', '--porcelain', '--untracked-files=normal']),
    defaultBranchOf(absolute),
  ]);
  const [topLevel = '', commonDir = '', headSha = '', headRef = ''] = revParse.out.split('\n');
  if (topLevel === '' || commonDir === '') {
    throw new TesseraError(
      'ERR_LOCAL_RUN_NOT_A_REPOSITORY',
      `${absolute} is not in a git working copy (run git init and commit a .gitlab-ci.yml first)`,
    );
  }
  const root = await realpath(topLevel);
  if (!revParse.ok || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(headSha)) {
    throw new TesseraError(
      'ERR_LOCAL_RUN_NO_REF',
      `${root} has no commit yet: commit your .gitlab-ci.yml, then run again (the pipeline runs the committed HEAD)`,
    );
  }
  let runRef = ref;
  if (runRef === undefined) {
    if (!headRef.startsWith('refs/heads/')) {
      throw new TesseraError(
        'ERR_LOCAL_RUN_NO_REF',
        'HEAD is detached: name the branch or tag to run with --ref',
      );
    }
    runRef = headRef.slice('refs/heads/'.length);
  }
  return {
    root,
    // Relative to the directory git ran in when it is inside the repository.
    objectsDir: join(resolve(absolute, commonDir), 'objects'),
    ref: runRef,
    headSha,
    refIsHead: ref === undefined,
    dirty: status.ok && status.out !== '',
    defaultBranch: defaultBranch ?? runRef,
  };
}

/** The origin's default branch, else `main` or `master` when it exists; undefined when none is known. */
async function defaultBranchOf(root: string): Promise<string | undefined> {
  const refs = await git(root, [
    'for-each-ref',
    '--format=%(refname)%09%(symref:short)',
    'refs/remotes/origin/HEAD',
    'refs/heads/main',
    'refs/heads/master',
  ]);
  const found = new Map<string, string>();
  for (const line of refs.ok ? refs.out.split('\n') : []) {
    const [name = '', target = ''] = line.split('\t');
    found.set(name, target);
  }
  const origin = found.get('refs/remotes/origin/HEAD');
  if (origin?.startsWith('origin/')) return origin.slice('origin/'.length);
  return ['main', 'master'].find((name) => found.has(`refs/heads/${name}`));
}
