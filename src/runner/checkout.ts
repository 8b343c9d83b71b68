import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TesseraError } from '../errors.js';

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
 * Fetches the project's repository into a bare cache (one per repository URL, shared by all jobs
 * of this runner) and checks out `sha` in the job's own build directory with real git: a fresh
 * clone that borrows objects from the cache, detached at the commit. Fetching again only when the
 * cache lacks the commit keeps repeated jobs of one pipeline fast.
 *
 * @throws TesseraError `ERR_RUNNER_CHECKOUT_FAILED` when the repository or the commit cannot be had.
 */
export async function checkout(options: CheckoutOptions): Promise<void> {
  const log = options.onLog ?? (() => {});
  if (!/^[0-9a-f]{7,64}$/i.test(options.sha)) {
    throw new TesseraError('ERR_RUNNER_CHECKOUT_FAILED', 'the job names no valid commit sha');
  }
  const cacheKey = createHash('sha256').update(options.repoUrl).digest('hex').slice(0, 24);
  const cache = resolve(options.cacheDir, `${cacheKey}.git`);
  try {
    await withCacheLock(cache, async () => {
      if (!existsSync(join(cache, 'HEAD'))) {
        await mkdir(cache, { recursive: true });
        await git(['init', '--quiet', '--bare', cache], undefined, options.signal);
      }
      if (await hasCommit(cache, options.sha)) return;
      log(`Fetching changes from ${redactUrl(options.repoUrl)}...`);
      await git(
        [
          'fetch',
          '--quiet',
          '--force',
          '--prune',
          '--',
          options.repoUrl,
          '+refs/heads/*:refs/heads/*',
          '+refs/tags/*:refs/tags/*',
        ],
        cache,
        options.signal,
      );
      if (!(await hasCommit(cache, options.sha))) {
        // A commit no branch or tag points at any more (a force-push): ask for it by name.
        await git(['fetch', '--quiet', '--', options.repoUrl, options.sha], cache, options.signal).catch(
          () => undefined,
        );
      }
    });
    if (!(await hasCommit(cache, options.sha))) {
      throw new TesseraError(
        'ERR_RUNNER_CHECKOUT_FAILED',
        `commit ${options.sha} is not in ${redactUrl(options.repoUrl)}`,
      );
    }
    await rm(options.projectDir, { recursive: true, force: true });
    await mkdir(options.projectDir, { recursive: true });
    await git(['init', '--quiet', options.projectDir], undefined, options.signal);
    // Borrow the cache's objects instead of copying them (git's "alternates"): no transfer at all.
    await writeFile(
      join(options.projectDir, '.git', 'objects', 'info', 'alternates'),
      `${join(cache, 'objects')}\n`,
    );
    log(
      `Checking out ${options.sha.slice(0, 8)} as detached HEAD${options.ref ? ` (ref is ${options.ref})` : ''}...`,
    );
    await git(
      ['checkout', '--quiet', '--force', '--detach', options.sha],
      options.projectDir,
      options.signal,
    );
  } catch (error) {
    if (error instanceof TesseraError) throw error;
    throw new TesseraError(
      'ERR_RUNNER_CHECKOUT_FAILED',
      `cannot check out ${options.sha.slice(0, 12)} of ${redactUrl(options.repoUrl)}: ${
        error instanceof Error ? redactUrl(error.message) : 'git failed'
      }`,
      { cause: error },
    );
  }
}
