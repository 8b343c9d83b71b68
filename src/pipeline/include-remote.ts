import { createHash } from 'node:crypto';
import type { ProblemList, SourcePosition } from './config-problem.js';
import { parseDuration } from './duration.js';
import { expandVariables } from './expand-variables.js';
import { describeNode, type MapNode } from './yaml-tree.js';

/**
 * Fetches the text of one `include:remote` file. The pipeline package has no network code: the
 * coordinator injects a fetcher that applies the instance's rules (host allow-list, HTTPS, time
 * and size limits, redirects, addresses). It answers `{ error }` (a sentence without the URL,
 * which the caller adds) for anything it refuses or cannot fetch, and never throws for that.
 */
export type FetchRemoteFile = (url: URL) => Promise<{ content: string } | { error: string }>;

/** A checked `include:remote` URL: what is fetched, and how messages show it. */
export interface RemoteLocation {
  readonly url: URL;
  /** The URL as messages and the lint API show it: the query string left out, as it may hold a token. */
  readonly display: string;
}

/** `integrity:` as GitLab writes it, a Subresource Integrity SHA-256 digest. */
const INTEGRITY = /^sha256-([A-Za-z0-9+/]{43}=)$/;

/** Whether an include value is a URL (`https://…`) rather than a repository path. */
export function looksLikeUrl(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value.trim());
}

/** The URL without userinfo and query, for messages. */
export function displayUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}${url.search === '' ? '' : '?…'}`;
}

/**
 * Reads an `include:remote` URL as GitLab accepts it: http or https, no credentials (GitLab
 * supports no authentication with remote includes, and userinfo in a URL would end up in
 * messages), a `.yml` or `.yaml` file. CI/CD variables in it are expanded from `variables`.
 */
export function parseRemoteLocation(
  raw: string,
  variables: Readonly<Record<string, string>>,
): RemoteLocation | { error: string } {
  const text = expandVariables(raw.trim(), variables);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Shown without what may be secret: userinfo and the query string.
    const shown = text.replace(/\/\/[^/]*@/, '//').replace(/\?.*$/s, '?…');
    return { error: `"${shown}" is not a URL; write include: { remote: https://host/path/file.yml }` };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { error: `${url.protocol.slice(0, -1)}:// is not supported by include:remote; use https://` };
  if (url.username !== '' || url.password !== '') {
    return {
      error: `the include:remote URL for ${url.host} carries credentials; remote includes are fetched without authentication, so remove them (the file must be readable without them)`,
    };
  }
  url.hash = '';
  const display = displayUrl(url);
  if (!/\.ya?ml$/i.test(url.pathname))
    return { error: `${display} must be a .yml or .yaml file, as GitLab requires for include:remote` };
  return { url, display };
}

/** Reads `integrity:`: the base64 digest, or an error when it is not `sha256-<base64 digest>`. */
export function parseIntegrity(value: unknown): { digest: string } | { error: string } {
  const match = typeof value === 'string' ? INTEGRITY.exec(value.trim()) : null;
  if (match === null)
    return {
      error:
        'must be sha256- followed by the base64 SHA-256 of the file (openssl dgst -sha256 -binary FILE | base64)',
    };
  return { digest: match[1]! };
}

/**
 * Checks a fetched file against its `integrity:` digest, as GitLab does (SHA-256 of the file's
 * bytes, base64). Answers the mismatch message, or `null` when the file matches.
 */
export function integrityMismatch(content: string, digest: string): string | null {
  const actual = createHash('sha256').update(content, 'utf8').digest('base64');
  if (actual === digest) return null;
  return `integrity check failed: the file has SHA-256 sha256-${actual}, not the sha256-${digest} that integrity: names; the file changed, or the digest is wrong`;
}

/**
 * Reads an `include` entry with `remote:` (and `integrity:`); `null` when it is unusable, the
 * problem recorded under `where`.
 */
export function readRemoteEntry(
  item: MapNode,
  where: string,
  problems: ProblemList,
  variables: Readonly<Record<string, string>>,
): { remote: RemoteLocation; integrity: string | null } | null {
  const remoteNode = item.entries.get('remote');
  const integrityNode = item.entries.get('integrity');
  const cacheNode = item.entries.get('cache');
  if (remoteNode === undefined) {
    for (const [key, node] of [
      ['integrity', integrityNode],
      ['cache', cacheNode],
    ] as const) {
      if (node !== undefined) problems.error(`${where}.${key}`, 'goes with include:remote only', node);
    }
    return null;
  }
  if (cacheNode !== undefined) {
    const value = cacheNode.kind === 'scalar' ? cacheNode.value : null;
    if (typeof value === 'boolean' || (typeof value === 'string' && parseDuration(value) !== null))
      problems.warn(
        `${where}.cache`,
        'is accepted and ignored: Tessera fetches a remote file for every pipeline (as GitLab without cache)',
        cacheNode,
      );
    else problems.error(`${where}.cache`, 'must be true, false or a duration such as "1 day"', cacheNode);
  }
  if (item.entries.has('local')) {
    problems.error(where, 'names both local and remote: one include entry reads one file', item);
    return null;
  }
  if (remoteNode.kind !== 'scalar' || typeof remoteNode.value !== 'string') {
    problems.error(`${where}.remote`, `must be a URL, not ${describeNode(remoteNode)}`, remoteNode);
    return null;
  }
  let integrity: string | null = null;
  if (integrityNode !== undefined) {
    const read = parseIntegrity(integrityNode.kind === 'scalar' ? integrityNode.value : null);
    if ('error' in read) {
      problems.error(`${where}.integrity`, read.error, integrityNode);
      return null;
    }
    integrity = read.digest;
  }
  const remote = parseRemoteLocation(remoteNode.value, variables);
  if ('error' in remote) {
    problems.error(`${where}.remote`, remote.error, remoteNode);
    return null;
  }
  return { remote, integrity };
}

/**
 * Fetches a remote include's file and checks its `integrity:` digest (`null` for none); `undefined`
 * when it cannot be used, the problem recorded at the entry, naming the URL without its query.
 */
export async function fetchRemoteInclude(
  remote: RemoteLocation,
  integrity: string | null,
  fetchRemoteFile: FetchRemoteFile | undefined,
  entry: { where: string; at: SourcePosition; problems: ProblemList },
): Promise<string | undefined> {
  const { where, at, problems } = entry;
  if (fetchRemoteFile === undefined) {
    problems.error(
      where,
      `cannot fetch ${remote.display}: this reader of the configuration fetches no remote files (loadPipeline without fetchRemoteFile)`,
      at,
    );
    return undefined;
  }
  const fetched = await fetchRemoteFile(remote.url);
  if ('error' in fetched) {
    problems.error(where, `remote file ${remote.display}: ${fetched.error}`, at);
    return undefined;
  }
  if (integrity !== null) {
    const mismatch = integrityMismatch(fetched.content, integrity);
    if (mismatch !== null) {
      problems.error(`${where}.integrity`, `remote file ${remote.display}: ${mismatch}`, at);
      return undefined;
    }
  }
  return fetched.content;
}
