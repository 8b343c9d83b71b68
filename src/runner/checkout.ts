import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TesseraError } from '../errors.js';
import { objectFormatOf, writeRepositorySkeleton } from '../git/repository-skeleton.js';

/** What to check out and where. */
export interface CheckoutOptions {
  /** A git URL or a local path of the project's repository. */
  readonly repoUrl: string;
  /** The commit to check out (full sha). */
  readonly sha: string;
  /** The ref the pipeline ran for, for the log only. */
  readonly ref?: string;
  /** Directory of the shared bare-repository cache. */
  readonly cacheDir: string;
  /** The job's own build directory; emptied and filled with the checkout. */
  readonly projectDir: string;
  /** Progress lines for the job log. */
  readonly onLog?: (line: string) => void;
  /** Aborting stops git. */
  readonly signal?: AbortSignal;
}

/** Git's output is not part of a job's output; the error text is bounded so that logs stay readable. */
const MAX_GIT_ERROR = 2000;

// Fetches into one cache repository must not overlap (git's ref locks would refuse the second).
const cacheLocks = new Map<string, Promise<unknown>>();
// Commits known to be in each cache: objects are never removed from a cache, so a commit seen once
// needs no further `git cat-file` (one process less on every job's path to its first script line).
const knownCommits = new Map<string, Set<string>>();

function remember(cache: string, sha: string): void {
  let commits = knownCommits.get(cache);
  if (commits === undefined) {
    commits = new Set();
    knownCommits.set(cache, commits);
  }
  commits.add(sha);
}

function git(args: readonly string[], cwd: string | undefined, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      // A repository owned by another user (a local path) must still be readable by the runner.
      ['-c', 'safe.directory=*', '-c', 'advice.detachedHead=false', ...args],
      {
        cwd,
        signal,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', LANG: 'C' },
      },
      (error, stdout, stderr) => {
        if (error) {
          const detail = `${stderr}`.trim().slice(-MAX_GIT_ERROR) || error.message;
          reject(new Error(`git ${args[0]} failed: ${detail}`));
        } else {
          resolve(stdout);
        }
      },
    );
  });
}

async function withCacheLock<T>(key: string, work: () => Promise<T>): Promise<T> {
  const previous = cacheLocks.get(key) ?? Promise.resolve();
  const current = previous.then(work, work);
  const settled = current.catch(() => undefined);
  cacheLocks.set(key, settled);
  try {
    return await current;
  } finally {
    if (cacheLocks.get(key) === settled) cacheLocks.delete(key);
  }
}

async function hasCommit(repo: string, sha: string): Promise<boolean> {
  try {
    await git(['cat-file', '-e', `${sha}^{commit}`], repo);
    return true;
  } catch {
    return false;
  }
}

/**
 * Redacts credentials from a URL for the log (`https://user:secret@host/x` → `https://host/x`).
 */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

/**
 * Makes sure the bare cache holds `options.sha`, fetching when it does not. A new cache made with
 * `borrowObjectsFrom` (a local repository's object directory) uses that repository's objects in
 * place (git's alternates) and fetches nothing.
 */
async function fetchIntoCache(
  cache: string,
  options: Pick<CheckoutOptions, 'repoUrl' | 'sha' | 'signal'> & { borrowObjectsFrom?: string },
  log: (line: string) => void,
): Promise<void> {
  await withCacheLock(cache, async () => {
    // Jobs that start together queue here behind the first one's fetch: once it has the commit,
    // the others need no `git cat-file` each (they ran one after the other, under this lock).
    if (knownCommits.get(cache)?.has(options.sha)) return;
    if (!existsSync(join(cache, 'HEAD'))) {
      await writeRepositorySkeleton(cache, {
        bare: true,
        head: 'ref: refs/heads/main',
        objectFormat: objectFormatOf(options.sha),
        ...(options.borrowObjectsFrom ? { alternates: [options.borrowObjectsFrom] } : {}),
      });
    }
    if (await hasCommit(cache, options.sha)) return remember(cache, options.sha);
    log(`Fetching changes from ${redactUrl(options.repoUrl)}...`);
    const refspecs = ['+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'];
    await git(
      ['fetch', '--quiet', '--force', '--prune', '--', options.repoUrl, ...refspecs],
      cache,
      options.signal,
    );
    if (!(await hasCommit(cache, options.sha))) {
      // A commit no branch or tag points at any more (a force-push): ask for it by name.
      await git(['fetch', '--quiet', '--', options.repoUrl, options.sha], cache, options.signal).catch(
        () => undefined,
      );
    }
    if (await hasCommit(cache, options.sha)) remember(cache, options.sha);
  });
}

/** The bare cache of `repoUrl` inside `cacheDir` (one per repository URL). */
function cachePath(cacheDir: string, repoUrl: string): string {
  const cacheKey = createHash('sha256').update(repoUrl).digest('hex').slice(0, 24);
  return resolve(cacheDir, `${cacheKey}.git`);
}

/**
 * Fetches `sha` of `repoUrl` into the bare cache before any job asks for it, so that the first
 * job's checkout does not wait for the fetch (`tessera run` knows its repository while its
 * coordinator is still starting). Jobs that start meanwhile wait for it under the cache's lock
 * and then fetch nothing. With `borrowObjectsFrom`, the object directory of the local repository
 * `repoUrl` names, a new cache borrows that repository's objects instead of fetching them. A
 * failure is left for the jobs' own checkout to report.
 */
export async function warmCache(options: {
  readonly repoUrl: string;
  readonly sha: string;
  readonly cacheDir: string;
  readonly borrowObjectsFrom?: string;
  readonly signal?: AbortSignal;
}): Promise<void> {
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/i.test(options.sha)) return;
  const sha = options.sha.toLowerCase();
  const cache = cachePath(options.cacheDir, options.repoUrl);
  if (knownCommits.get(cache)?.has(sha)) return;
  await fetchIntoCache(cache, { ...options, sha }, () => undefined).catch(() => undefined);
}

/**
 * Fetches the project's repository into a bare cache (one per repository URL, shared by all jobs
 * of this runner) and checks out `sha` in the job's own build directory with real git: a fresh
 * repository that borrows objects from the cache, detached at the commit. The cache is fetched
 * only when it lacks the commit, so the jobs of one pipeline fetch once.
 *
 * @throws TesseraError `ERR_RUNNER_CHECKOUT_FAILED` when the repository or the commit cannot be had.
 */
export async function checkout(options: CheckoutOptions): Promise<void> {
  const log = options.onLog ?? (() => {});
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/i.test(options.sha)) {
    throw new TesseraError('ERR_RUNNER_CHECKOUT_FAILED', 'the job names no valid commit sha');
  }
  const sha = options.sha.toLowerCase();
  const cache = cachePath(options.cacheDir, options.repoUrl);
  try {
    if (!knownCommits.get(cache)?.has(sha)) await fetchIntoCache(cache, { ...options, sha }, log);
    if (!knownCommits.get(cache)?.has(sha)) {
      throw new TesseraError(
        'ERR_RUNNER_CHECKOUT_FAILED',
        `commit ${sha} is not in ${redactUrl(options.repoUrl)}`,
      );
    }
    await rm(options.projectDir, { recursive: true, force: true });
    await writeRepositorySkeleton(join(options.projectDir, '.git'), {
      bare: false,
      head: sha,
      alternates: [join(cache, 'objects')],
      objectFormat: objectFormatOf(sha),
    });
    log(
      `Checking out ${sha.slice(0, 8)} as detached HEAD${options.ref ? ` (ref is ${options.ref})` : ''}...`,
    );
    try {
      await git(['checkout', '--quiet', '--force', '--detach', sha], options.projectDir, options.signal);
    } catch (error) {
      // The cache may have been removed or damaged under a running runner: forget what it was
      // known to hold, fetch again, and retry once.
      if (options.signal?.aborted) throw error;
      knownCommits.delete(cache);
      await fetchIntoCache(cache, { ...options, sha }, log);
      await git(['checkout', '--quiet', '--force', '--detach', sha], options.projectDir, options.signal);
    }
  } catch (error) {
    if (error instanceof TesseraError) throw error;
    throw new TesseraError(
      'ERR_RUNNER_CHECKOUT_FAILED',
      `cannot check out ${sha.slice(0, 12)} of ${redactUrl(options.repoUrl)}: ${
        error instanceof Error ? redactUrl(error.message) : 'git failed'
      }`,
      { cause: error },
    );
  }
}
