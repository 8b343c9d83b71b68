import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TesseraError } from '../errors.js';
import { objectFormatOf, writeRepositorySkeleton } from '../git/repository-skeleton.js';
import { shellQuote } from './script-file.js';

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

// A repository owned by another user (a local path) must still be readable by the runner.
const GIT_OPTIONS = ['-c', 'safe.directory=*', '-c', 'advice.detachedHead=false'] as const;

/** The `git` arguments that fill a prepared build directory with commit `sha`, by the runner or the job's shell. */
function checkoutArgs(sha: string): string[] {
  return ['checkout', '--quiet', '--force', '--detach', sha];
}

function git(args: readonly string[], cwd: string | undefined, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      [...GIT_OPTIONS, ...args],
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

/** Wraps a failure of git in the error a job reports (credentials redacted). */
function checkoutError(options: CheckoutOptions, sha: string, error: unknown): TesseraError {
  if (error instanceof TesseraError) return error;
  return new TesseraError(
    'ERR_RUNNER_CHECKOUT_FAILED',
    `cannot check out ${sha.slice(0, 12)} of ${redactUrl(options.repoUrl)}: ${
      error instanceof Error ? redactUrl(error.message) : 'git failed'
    }`,
    { cause: error },
  );
}

/**
 * Everything of a checkout but filling the working tree: fetches the project's repository into a
 * bare cache (one per repository URL, shared by all jobs of this runner) when the cache lacks
 * `sha`, and writes the job's build directory as a fresh repository that borrows the cache's
 * objects, detached at the commit. Answers the commit (lower case). What is left is one
 * `git checkout`: {@link checkout} runs it, or the job's own shell does ({@link shellCheckout}).
 *
 * @throws TesseraError `ERR_RUNNER_CHECKOUT_FAILED` when the repository or the commit cannot be had.
 */
export async function prepareCheckout(options: CheckoutOptions): Promise<string> {
  const log = options.onLog ?? (() => {});
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/i.test(options.sha)) {
    throw new TesseraError('ERR_RUNNER_CHECKOUT_FAILED', 'the job names no valid commit sha');
  }
  const sha = options.sha.toLowerCase();
  const cache = cachePath(options.cacheDir, options.repoUrl);
  try {
    // A cache removed under a running runner: what it was known to hold is gone with it.
    if (knownCommits.get(cache)?.has(sha) && !existsSync(join(cache, 'objects'))) knownCommits.delete(cache);
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
  } catch (error) {
    throw checkoutError(options, sha, error);
  }
  log(`Checking out ${sha.slice(0, 8)} as detached HEAD${options.ref ? ` (ref is ${options.ref})` : ''}...`);
  return sha;
}

/**
 * Checks out `sha` in the job's own build directory with real git ({@link prepareCheckout}, then
 * `git checkout` run by the runner). A checkout that fails on a cache damaged under a running
 * runner forgets what the cache was known to hold, fetches again and tries once more.
 *
 * @throws TesseraError `ERR_RUNNER_CHECKOUT_FAILED` when the repository or the commit cannot be had.
 */
export async function checkout(options: CheckoutOptions): Promise<void> {
  const sha = await prepareCheckout(options);
  const cache = cachePath(options.cacheDir, options.repoUrl);
  try {
    try {
      await git(checkoutArgs(sha), options.projectDir, options.signal);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      knownCommits.delete(cache);
      await fetchIntoCache(cache, { ...options, sha }, options.onLog ?? (() => {}));
      await git(checkoutArgs(sha), options.projectDir, options.signal);
    }
  } catch (error) {
    throw checkoutError(options, sha, error);
  }
}

/**
 * The bash lines that finish a {@link prepareCheckout} from inside the job's shell, before the
 * job's first command: one process started by bash instead of one more started by the runner,
 * whose every start copies the runner's page tables (`fork`). git runs with the runner's PATH and
 * HOME and nothing of the job's environment (a job variable such as `GIT_DIR` must not steer it);
 * its output goes to `logFile`, and a failure leaves `failedMarker` and ends the shell before any
 * job command runs. See {@link shellCheckoutFailure}.
 */
export function shellCheckout(sha: string, files: { logFile: string; failedMarker: string }): string {
  const env = ['PATH', 'HOME'].flatMap((name) => {
    const value = process.env[name];
    return value === undefined ? [] : [`${name}=${shellQuote(value)}`];
  });
  return [
    `if ! env -i ${env.join(' ')} LANG=C GIT_TERMINAL_PROMPT=0 git ${[...GIT_OPTIONS, ...checkoutArgs(sha)].map(shellQuote).join(' ')} >${shellQuote(files.logFile)} 2>&1; then`,
    `  : >${shellQuote(files.failedMarker)}`,
    '  exit 1',
    'fi',
  ].join('\n');
}

/**
 * After the job's shell ended: undefined when the {@link shellCheckout} it began with worked,
 * else the error to report (git's last words, credentials redacted). A failed checkout also makes
 * the runner forget what the cache was known to hold, so that the next job fetches again.
 */
export async function shellCheckoutFailure(
  options: Pick<CheckoutOptions, 'repoUrl' | 'cacheDir'>,
  sha: string,
  files: { logFile: string; failedMarker: string },
): Promise<TesseraError | undefined> {
  if (!existsSync(files.failedMarker)) return undefined;
  knownCommits.delete(cachePath(options.cacheDir, options.repoUrl));
  // The job could have put a link there (to a file only the runner may read): never follow one.
  const output = await open(files.logFile, constants.O_RDONLY | constants.O_NOFOLLOW)
    .then(async (handle) => {
      try {
        // Only its end is shown, and the job could have made it any size.
        const { size } = await handle.stat();
        const length = Math.min(size, 4 * MAX_GIT_ERROR);
        const { buffer, bytesRead } = await handle.read(Buffer.alloc(length), 0, length, size - length);
        return buffer.subarray(0, bytesRead).toString('utf8');
      } finally {
        await handle.close();
      }
    })
    .catch(() => '');
  const detail = output.trim().slice(-MAX_GIT_ERROR) || 'git failed';
  return checkoutError({ ...options, sha, projectDir: '' }, sha, new Error(`git checkout failed: ${detail}`));
}
