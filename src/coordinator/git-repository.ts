import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TesseraError } from '../errors.js';
import { writeRepositorySkeleton } from '../git/repository-skeleton.js';

/** A ref resolved on the remote. */
export interface ResolvedRef {
  /** Branch or tag name as asked. */
  name: string;
  type: 'branch' | 'tag';
  /** `refs/heads/<name>` or `refs/tags/<name>`. */
  fullRef: string;
  /** The commit (a tag is peeled to its commit). */
  sha: string;
}

/** Commit metadata for the predefined variables. */
export interface CommitInfo {
  message: string;
  author: string;
  beforeSha: string;
}

const GIT_TIMEOUT_MS = 60_000;
const MAX_OUTPUT = 16 * 1024 * 1024;

/** A URL or path with any `user:password@` removed, for messages. */
export function redactRepositoryUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1');
}

/**
 * Reads pipeline configurations from project repositories with the real `git`: `git ls-remote`
 * resolves a ref, `git fetch` brings the commit into a bare cache under the data directory (one
 * per repository URL), and `git show <sha>:<path>` reads the file. `repositoryUrl` may be any
 * URL git understands or a local path; `ext::` and other command transports are refused.
 */
export class GitRepositoryReader {
  readonly #cacheRoot: string;
  /** One fetch at a time per cache, so two pipelines on one repository do not race on its refs. */
  readonly #queues = new Map<string, Promise<unknown>>();
  /** Caches made by {@link borrowObjects}: they hold every commit of their repository already. */
  readonly #borrowing = new Set<string>();

  constructor(dataDir: string) {
    this.#cacheRoot = join(dataDir, 'git-cache');
  }

  /**
   * Resolves `ref` (a branch name, or a tag name) on the remote. A branch wins over a tag of the same name.
   *
   * @throws TesseraError `ERR_GIT_REF_NOT_FOUND`, or `ERR_GIT_FAILED` when the repository cannot be read.
   */
  async resolveRef(repositoryUrl: string, ref: string): Promise<ResolvedRef> {
    checkUrl(repositoryUrl);
    if (!isSafeRefName(ref)) {
      throw new TesseraError(
        'ERR_GIT_REF_NOT_FOUND',
        `"${ref.slice(0, 100)}" is not a valid branch or tag name`,
      );
    }
    const out = await git(
      ['ls-remote', '--', repositoryUrl, `refs/heads/${ref}`, `refs/tags/${ref}`, `refs/tags/${ref}^{}`],
      repositoryUrl,
    );
    const refs = new Map<string, string>();
    for (const line of out.split('\n')) {
      const [sha, name] = line.split('\t');
      if (sha && name) refs.set(name, sha);
    }
    const branch = refs.get(`refs/heads/${ref}`);
    if (branch) return { name: ref, type: 'branch', fullRef: `refs/heads/${ref}`, sha: branch };
    const tag = refs.get(`refs/tags/${ref}^{}`) ?? refs.get(`refs/tags/${ref}`);
    if (tag) return { name: ref, type: 'tag', fullRef: `refs/tags/${ref}`, sha: tag };
    throw new TesseraError('ERR_GIT_REF_NOT_FOUND', `the repository has no branch or tag named "${ref}"`);
  }

  /**
   * Makes the cache of `repositoryUrl`, a local repository, borrow that repository's objects
   * (`objectsDir`) in place through git's alternates, so that {@link fetch} finds its commits there
   * and copies nothing (`tessera run`, whose repository is the working copy). No-op when the cache
   * exists.
   */
  async borrowObjects(
    repositoryUrl: string,
    objectsDir: string,
    objectFormat: 'sha1' | 'sha256',
  ): Promise<void> {
    checkUrl(repositoryUrl);
    const cache = this.#cachePath(repositoryUrl);
    await this.#serialized(cache, async () => {
      if (existsSync(join(cache, 'HEAD'))) return;
      await mkdir(cache, { recursive: true, mode: 0o700 });
      await writeRepositorySkeleton(cache, {
        bare: true,
        head: 'ref: refs/heads/main',
        alternates: [objectsDir],
        objectFormat,
      });
      this.#borrowing.add(cache);
    });
  }

  /** Fetches `ref` into the bare cache of `repositoryUrl` and answers the cache directory. */
  async fetch(repositoryUrl: string, ref: ResolvedRef): Promise<string> {
    checkUrl(repositoryUrl);
    const cache = this.#cachePath(repositoryUrl);
    return this.#serialized(cache, async () => {
      // Every commit a ref of the repository resolves to is among the borrowed objects: no process to ask.
      if (this.#borrowing.has(cache)) return cache;
      // A spawn saved on every pipeline after the first: each one starts a process.
      if (!existsSync(join(cache, 'HEAD'))) {
        await mkdir(cache, { recursive: true, mode: 0o700 });
        await git(['init', '--bare', '--quiet', cache], repositoryUrl);
      }
      if (!(await hasCommit(cache, ref.sha))) {
        await git(
          [
            '-C',
            cache,
            'fetch',
            '--quiet',
            '--no-tags',
            '--',
            repositoryUrl,
            `+${ref.fullRef}:${ref.fullRef}`,
          ],
          repositoryUrl,
        );
      }
      return cache;
    });
  }

  #cachePath(repositoryUrl: string): string {
    return join(
      this.#cacheRoot,
      `${createHash('sha256').update(repositoryUrl).digest('hex').slice(0, 32)}.git`,
    );
  }

  /** Runs `work` on `cache` after every earlier one queued on it has ended. */
  async #serialized<T>(cache: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(cache) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(work);
    this.#queues.set(cache, run);
    try {
      return await run;
    } finally {
      if (this.#queues.get(cache) === run) this.#queues.delete(cache);
    }
  }

  /** The file `path` at commit `sha` in `cache`, or undefined when the commit has no such file. */
  async readFile(cache: string, sha: string, path: string): Promise<string | undefined> {
    const clean = cleanPath(path);
    if (clean === undefined) return undefined;
    try {
      return await git(['-C', cache, 'show', `${sha}:${clean}`], '');
    } catch {
      return undefined;
    }
  }

  /** Every file path of commit `sha` (for `include:local` wildcards), in git's order. */
  async listFiles(cache: string, sha: string): Promise<string[]> {
    const out = await git(['-C', cache, 'ls-tree', '-r', '-z', '--name-only', sha], '');
    return out.split('\u0000').filter((path) => path !== '');
  }

  /**
   * The paths that differ between commits `base` and `sha` (a rename counts both paths), for
   * `rules:changes`; `null` when the cache lacks `base`.
   */
  async changedPaths(cache: string, base: string, sha: string): Promise<string[] | null> {
    if (!/^[0-9a-f]{40,64}$/.test(base) || !(await hasCommit(cache, base))) return null;
    const out = await git(['-C', cache, 'diff', '--name-only', '-z', '--no-renames', base, sha, '--'], '');
    return out.split('\u0000').filter((path) => path !== '');
  }

  /** The best common ancestor of commits `a` and `b` (`rules:changes:compare_to`), or `null`. */
  async mergeBase(cache: string, a: string, b: string): Promise<string | null> {
    try {
      return (await git(['-C', cache, 'merge-base', a, b], '')).trim() || null;
    } catch {
      return null;
    }
  }

  /** Message and author of commit `sha`, and its first parent. */
  async commitInfo(cache: string, sha: string): Promise<CommitInfo> {
    return parseCommitInfo(await git(['-C', cache, 'show', '-s', `--format=${COMMIT_FORMAT}`, sha], ''));
  }

  /**
   * {@link commitInfo} and {@link readFile} of the same commit with one git process (`git show`
   * prints the formatted commit, a NUL, a newline, then the file): the pipeline's creation waits
   * for both. A commit without the file costs a second process, for the commit alone.
   */
  async readCommitAndFile(
    cache: string,
    sha: string,
    path: string,
  ): Promise<{ commit: CommitInfo; content: string | undefined }> {
    const clean = cleanPath(path);
    if (clean !== undefined) {
      try {
        const out = await git(
          ['-C', cache, 'show', '-s', `--format=${COMMIT_FORMAT}%x00`, sha, `${sha}:${clean}`],
          '',
        );
        const end = out.indexOf('\u0000');
        if (end >= 0) return { commit: parseCommitInfo(out.slice(0, end)), content: out.slice(end + 2) };
      } catch {
        // no such file: the commit alone below
      }
    }
    return { commit: await this.commitInfo(cache, sha), content: undefined };
  }
}

/** `git show` format of a commit for {@link parseCommitInfo}: parents, author, raw message. */
const COMMIT_FORMAT = '%P%n%an <%ae>%n%B';

function parseCommitInfo(out: string): CommitInfo {
  const [parents = '', author = '', ...message] = out.split('\n');
  return {
    beforeSha: parents.split(' ')[0] || '0000000000000000000000000000000000000000',
    author,
    message: message.join('\n').trimEnd(),
  };
}

/** A repository path without a leading `./` or `/`; undefined when empty or leaving the tree (`..`). */
function cleanPath(path: string): string | undefined {
  const clean = path.replace(/^\.?\//, '');
  return clean === '' || clean.split('/').some((part) => part === '..') ? undefined : clean;
}

function checkUrl(url: string): void {
  if (url.startsWith('-') || /^[a-z][a-z0-9+.-]*::/i.test(url) || url.includes('\n') || url === '') {
    throw new TesseraError('ERR_GIT_FAILED', 'repository_url must be a git URL or a local path');
  }
}

/** Git's ref-name rules (check-ref-format), enough to keep odd input out of git's arguments. */
function isSafeRefName(ref: string): boolean {
  return (
    ref.length > 0 &&
    ref.length <= 255 &&
    !ref.startsWith('-') &&
    !ref.startsWith('/') &&
    !ref.endsWith('/') &&
    !ref.endsWith('.lock') &&
    !ref.endsWith('.') &&
    !ref.includes('..') &&
    !ref.includes('@{') &&
    !ref.includes('//') &&
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    !/[\x00-\x20\x7f~^:?*[\\]/.test(ref)
  );
}

async function hasCommit(cache: string, sha: string): Promise<boolean> {
  try {
    await git(['-C', cache, 'cat-file', '-e', `${sha}^{commit}`], '');
    return true;
  } catch {
    return false;
  }
}

function git(args: string[], repositoryUrl: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      ['-c', 'protocol.ext.allow=never', '-c', 'core.hooksPath=/dev/null', ...args],
      {
        timeout: GIT_TIMEOUT_MS,
        maxBuffer: MAX_OUTPUT,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? '/tmp',
          GIT_TERMINAL_PROMPT: '0',
          GIT_ASKPASS: 'true',
          SSH_ASKPASS: 'true',
          GIT_SSH_COMMAND: 'ssh -o BatchMode=yes',
        },
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const first =
          (stderr || error.message).split('\n').find((line) => line.trim() !== '') ?? 'git failed';
        const safe = redactRepositoryUrl(first.replace(/^fatal: /, '')).replaceAll(
          repositoryUrl || '\u0000',
          redactRepositoryUrl(repositoryUrl),
        );
        reject(
          new TesseraError('ERR_GIT_FAILED', `cannot read the repository: ${safe.slice(0, 300)}`, {
            cause: error,
          }),
        );
      },
    );
  });
}
