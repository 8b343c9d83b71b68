import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { TesseraError } from '../errors.js';
import { writeRepositorySkeleton } from '../git/repository-skeleton.js';
import { PIPELINE_LIMITS } from '../pipeline/limits.js';
import {
  parseRepositoryUrl,
  type RepositoryLocation,
  type RepositoryRules,
  resolveRepositoryHost,
} from './repository-url.js';

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
 * per repository URL), and `git show <sha>:<path>` reads the file. `repositoryUrl` is one of the
 * forms of {@link parseRepositoryUrl} (stored only after {@link checkRepositoryUrl}); before each
 * command that reaches the network its host is resolved and checked again, git may use only that
 * URL's transport (`GIT_ALLOW_PROTOCOL`), follows no HTTP redirect (a redirect to an internal
 * address would escape the check) and connects to the addresses just checked (`http.curloptResolve`).
 */
export class GitRepositoryReader {
  readonly #cacheRoot: string;
  /** One fetch at a time per cache, so two pipelines on one repository do not race on its refs. */
  readonly #queues = new Map<string, Promise<unknown>>();
  /** Caches made by {@link borrowObjects}: they hold every commit of their repository already. */
  readonly #borrowing = new Set<string>();

  readonly #rules: RepositoryRules;

  constructor(dataDir: string, rules: RepositoryRules) {
    this.#cacheRoot = join(dataDir, 'git-cache');
    this.#rules = rules;
  }

  /** How git may reach `repositoryUrl`: its transport, and the addresses checked for its host. */
  async #remoteAccess(repositoryUrl: string): Promise<RemoteAccess> {
    const location = parseRepositoryUrl(repositoryUrl);
    if (location.kind === 'local') return { location, config: [] };
    const addresses = await resolveRepositoryHost(this.#rules, location);
    const config = ['-c', 'http.followRedirects=false'];
    if (location.kind !== 'ssh' && isIP(location.host) === 0) {
      const list = addresses.map(({ address, family }) => (family === 6 ? `[${address}]` : address));
      config.push('-c', `http.curloptResolve=${location.host}:${location.port}:${list.join(',')}`);
    }
    return { location, config };
  }

  /**
   * Resolves `ref` (a branch name, or a tag name) on the remote. A branch wins over a tag of the same name.
   *
   * @throws TesseraError `ERR_GIT_REF_NOT_FOUND`, or `ERR_GIT_FAILED` when the repository cannot be read.
   */
  async resolveRef(repositoryUrl: string, ref: string): Promise<ResolvedRef> {
    if (!isSafeRefName(ref)) {
      throw new TesseraError(
        'ERR_GIT_REF_NOT_FOUND',
        `"${ref.slice(0, 100)}" is not a valid branch or tag name`,
      );
    }
    const remote = await this.#remoteAccess(repositoryUrl);
    const out = await git(
      [
        ...remote.config,
        'ls-remote',
        '--',
        repositoryUrl,
        `refs/heads/${ref}`,
        `refs/tags/${ref}`,
        `refs/tags/${ref}^{}`,
      ],
      repositoryUrl,
      remote.location,
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
   * Every branch and tag of the remote (`git ls-remote --heads --tags`), as full ref name to
   * commit; an annotated tag is peeled to its commit. What the mirror watcher compares.
   *
   * @throws TesseraError `ERR_GIT_FAILED` when the repository cannot be read.
   */
  async listRefs(repositoryUrl: string): Promise<Map<string, string>> {
    const remote = await this.#remoteAccess(repositoryUrl);
    const out = await git(
      [...remote.config, 'ls-remote', '--heads', '--tags', '--', repositoryUrl],
      repositoryUrl,
      remote.location,
    );
    const refs = new Map<string, string>();
    const peeled = new Map<string, string>();
    for (const line of out.split('\n')) {
      const [sha, name] = line.split('\t');
      if (!sha || !name || !/^[0-9a-f]{40,64}$/.test(sha)) continue;
      if (name.endsWith('^{}')) peeled.set(name.slice(0, -3), sha);
      else if (isSafeRefName(name.replace(/^refs\/(heads|tags)\//, ''))) refs.set(name, sha);
    }
    for (const [name, sha] of peeled) if (refs.has(name)) refs.set(name, sha);
    return refs;
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
    parseRepositoryUrl(repositoryUrl);
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
    parseRepositoryUrl(repositoryUrl);
    const cache = this.#cachePath(repositoryUrl);
    return this.#serialized(cache, async () => {
      // Every commit a ref of the repository resolves to is among the borrowed objects: no process to ask.
      if (this.#borrowing.has(cache)) return cache;
      // A spawn saved on every pipeline after the first: each one starts a process.
      if (!existsSync(join(cache, 'HEAD'))) {
        await mkdir(cache, { recursive: true, mode: 0o700 });
        await git(['init', '--bare', '--quiet', cache], '');
      }
      if (!(await hasCommit(cache, ref.sha))) {
        const remote = await this.#remoteAccess(repositoryUrl);
        await git(
          [
            ...remote.config,
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
          remote.location,
        );
      }
      return cache;
    });
  }

  /**
   * Brings commit `sha` (full hex) of `repositoryUrl` into its cache, for an `include:project` or
   * component ref that is a commit rather than a branch or tag, and answers the cache directory.
   *
   * @throws TesseraError `ERR_GIT_REF_NOT_FOUND` when the remote gives no such commit (git does
   *   not tell a missing commit from an unreadable remote apart in words it is safe to show).
   */
  async fetchCommit(repositoryUrl: string, sha: string): Promise<string> {
    parseRepositoryUrl(repositoryUrl);
    if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(sha))
      throw new TesseraError('ERR_GIT_REF_NOT_FOUND', `"${sha.slice(0, 100)}" is not a full commit SHA`);
    const cache = this.#cachePath(repositoryUrl);
    return this.#serialized(cache, async () => {
      if (!existsSync(join(cache, 'HEAD'))) {
        await mkdir(cache, { recursive: true, mode: 0o700 });
        await git(['init', '--bare', '--quiet', cache], '');
      }
      if (await hasCommit(cache, sha)) return cache;
      const remote = await this.#remoteAccess(repositoryUrl);
      try {
        await git(
          [...remote.config, '-C', cache, 'fetch', '--quiet', '--no-tags', '--', repositoryUrl, sha],
          repositoryUrl,
          remote.location,
        );
      } catch (error) {
        throw new TesseraError(
          'ERR_GIT_REF_NOT_FOUND',
          `the repository has no commit ${sha} (or cannot be read)`,
          { cause: error },
        );
      }
      if (!(await hasCommit(cache, sha)))
        throw new TesseraError('ERR_GIT_REF_NOT_FOUND', `the repository has no commit ${sha}`);
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
    } catch (error) {
      await this.#refuseIfTooLarge(error, cache, sha, clean);
      return undefined;
    }
  }

  /**
   * A file too large for git's output buffer is there all the same: say so with its size and the
   * limit, rather than letting it pass for a missing file (GitLab: "The provided YAML is too big").
   */
  async #refuseIfTooLarge(error: unknown, cache: string, sha: string, path: string): Promise<void> {
    const cause = error instanceof TesseraError ? (error.cause as { code?: unknown } | undefined) : undefined;
    if (cause?.code !== 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return;
    const size = Number((await git(['-C', cache, 'cat-file', '-s', `${sha}:${path}`], '')).trim());
    const message = `${path} at commit ${sha.slice(0, 8)} is ${size} bytes, larger than the limit of ${PIPELINE_LIMITS.maxFileBytes} bytes on a configuration file; split it with include:local`;
    throw new TesseraError('ERR_PIPELINE_INVALID', message, {
      details: { errors: [{ path, message, line: null }], warnings: [] },
    });
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
      } catch (error) {
        await this.#refuseIfTooLarge(error, cache, sha, clean);
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

/** git options for one remote, and what the remote is. */
interface RemoteAccess {
  location: RepositoryLocation;
  config: string[];
}

/** `GIT_ALLOW_PROTOCOL` for each kind of repository: git may use that transport and no other. */
const PROTOCOL_OF: { readonly [K in RepositoryLocation['kind']]: string } = {
  local: 'file',
  https: 'https',
  http: 'http',
  ssh: 'ssh',
};

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

/**
 * Runs git. With `remote` (a command that reads `repositoryUrl`), git may use only its transport,
 * and a failure on a local repository says no more than that it failed: git's own words would
 * tell whether a path on the coordinator exists, is readable or is a repository.
 */
function git(args: string[], repositoryUrl: string, remote?: RepositoryLocation): Promise<string> {
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
          GIT_ALLOW_PROTOCOL: remote ? PROTOCOL_OF[remote.kind] : 'file',
        },
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        if (remote?.kind === 'local') {
          return reject(
            new TesseraError(
              'ERR_GIT_FAILED',
              'cannot read the repository: it is not a git repository the coordinator can read',
              { cause: error },
            ),
          );
        }
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
