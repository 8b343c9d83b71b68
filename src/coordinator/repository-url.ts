import { lookup } from 'node:dns/promises';
import { realpath } from 'node:fs/promises';
import { BlockList, isIP } from 'node:net';
import { normalize, sep } from 'node:path';
import type { TesseraConfig } from '../config/defaults.js';
import { localRepositoryDirectories } from '../config/load.js';
import { TesseraError } from '../errors.js';

/** Where a project's repository is: a directory on the coordinator's disk, or a host on the network. */
export type RepositoryLocation =
  | { readonly kind: 'local'; readonly path: string }
  | {
      readonly kind: 'https' | 'http' | 'ssh';
      /** Host name or IP address (without the brackets of an IPv6 literal). */
      readonly host: string;
      readonly port: number;
    };

/** The settings the repository rules read. */
export type RepositoryRules = Pick<
  TesseraConfig,
  'repositoryAllowLocal' | 'repositoryAllowHttp' | 'allowLocalNetwork'
>;

/** An address a host name resolved to, pinned for the git process that connects to it. */
export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

const ALLOWED = 'repository_url must be an https://, http:// or ssh:// URL, or user@host:path';

/** Every refusal of a local path says the same, whether or not the path exists or is a repository. */
const LOCAL_REFUSED =
  'repository_url is blocked: local paths are for administrators, or under a directory of TESSERA_REPOSITORY_ALLOW_LOCAL';

function blocked(message: string): TesseraError {
  return new TesseraError('ERR_REPOSITORY_URL_BLOCKED', message, {
    details: { field: 'body.repository_url' },
  });
}

/**
 * Reads a repository URL as git would, keeping only the forms GitLab imports from: `https://`,
 * `http://`, `ssh://` and scp-like `user@host:path`, plus local paths (`/srv/git/app.git`,
 * `file:///srv/git/app.git`). Refuses every other transport (`git://`, `ext::`, `fd::`, relative
 * paths) and a user or host that starts with `-` (it would reach ssh as an option).
 *
 * @throws TesseraError `ERR_REPOSITORY_URL_BLOCKED` saying which forms are accepted.
 */
export function parseRepositoryUrl(url: string): RepositoryLocation {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (url === '' || /[\x00-\x20\x7f]/.test(url)) throw blocked(ALLOWED);
  if (url.startsWith('/')) return { kind: 'local', path: normalize(url) };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw blocked(ALLOWED);
    }
    if (scheme === 'file') {
      if (parsed.host !== '' && parsed.host !== 'localhost') throw blocked(ALLOWED);
      let path: string;
      try {
        path = decodeURIComponent(parsed.pathname);
      } catch {
        throw blocked(ALLOWED);
      }
      return { kind: 'local', path: normalize(path) };
    }
    if (scheme !== 'https' && scheme !== 'http' && scheme !== 'ssh') throw blocked(ALLOWED);
    // git hands the URL to libcurl or ssh, whose parsers must see the host checked here: the host
    // as written must be the host as parsed (no `\`, one `@`, no encoded or numeric trickery).
    const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(url)?.[1] ?? '';
    const written = authority
      .slice(authority.lastIndexOf('@') + 1)
      .replace(/:\d*$/, '')
      .toLowerCase();
    // An IPv6 literal is written in several forms; WHATWG's is the compressed one.
    const sameHost =
      written === parsed.hostname.toLowerCase() ||
      (written.startsWith('[') && isIP(parsed.hostname.slice(1, -1)) === 6);
    if (url.includes('\\') || authority.split('@').length > 2 || !sameHost) {
      throw blocked(ALLOWED);
    }
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    if (host === '' || host.startsWith('-') || decodeURIComponent(parsed.username).startsWith('-')) {
      throw blocked(ALLOWED);
    }
    const defaultPort = scheme === 'https' ? 443 : scheme === 'http' ? 80 : 22;
    return { kind: scheme, host, port: parsed.port === '' ? defaultPort : Number(parsed.port) };
  }
  // git's scp-like syntax: no slash before the first colon (`git@example.com:group/app.git`).
  const scp = /^(?:([^@/:]+)@)?(\[[^\]/]+\]|[^@/:[\]]+):(.*)$/.exec(url);
  if (scp && !url.includes('::')) {
    const user = scp[1] ?? '';
    const host = (scp[2] ?? '').replace(/^\[(.*)\]$/, '$1');
    if (host === '' || host.startsWith('-') || user.startsWith('-') || (scp[3] ?? '') === '') {
      throw blocked(ALLOWED);
    }
    return { kind: 'ssh', host, port: 22 };
  }
  throw blocked(ALLOWED);
}

/**
 * Checks a project's repository URL before it is stored (`POST /projects`, `PUT /projects/:id`),
 * as GitLab checks an import URL: the transport ({@link parseRepositoryUrl}; `http://` only while
 * `repositoryAllowHttp`), a local path only for an administrator or under a directory of
 * `repositoryAllowLocal` (symbolic links resolved), and a host only when every address it resolves
 * to is public (see {@link resolveRepositoryHost}). A refused local path gets one message whatever
 * is on the disk, so the check reveals nothing about the coordinator's files.
 *
 * @throws TesseraError `ERR_REPOSITORY_URL_BLOCKED`.
 */
export async function checkRepositoryUrl(
  rules: RepositoryRules,
  url: string,
  user: { readonly isAdmin: boolean },
): Promise<RepositoryLocation> {
  const location = parseRepositoryUrl(url);
  if (location.kind === 'local') {
    if (!user.isAdmin && !(await isUnderAllowedDirectory(rules, location.path))) throw blocked(LOCAL_REFUSED);
    return location;
  }
  await resolveRepositoryHost(rules, location);
  return location;
}

async function isUnderAllowedDirectory(rules: RepositoryRules, path: string): Promise<boolean> {
  const directories = localRepositoryDirectories(rules);
  const inside = (candidate: string) =>
    directories.some(
      (directory) =>
        candidate === directory || candidate.startsWith(directory === sep ? sep : `${directory}${sep}`),
    );
  if (!inside(path)) return false;
  // A symbolic link under an allowed directory must not lead out of it.
  const real = await realpath(path).catch(() => undefined);
  if (real === undefined) return true;
  const realDirectories = await Promise.all(
    directories.map((directory) => realpath(directory).catch(() => directory)),
  );
  return realDirectories.some(
    (directory) => real === directory || real.startsWith(directory === sep ? sep : `${directory}${sep}`),
  );
}

/**
 * Resolves the host of a network repository and answers its addresses, refusing (unless
 * `allowLocalNetwork`) a host any of whose addresses is loopback, unspecified, private,
 * shared (CGNAT), link-local or multicast: GitLab's "Requests to the local network are not
 * allowed". Called when the URL is stored and again before every git command, whose HTTP
 * connections are then pinned to the addresses checked here (a DNS answer that changes between
 * the check and the connection cannot reach an internal address).
 *
 * @throws TesseraError `ERR_REPOSITORY_URL_BLOCKED`, also when the host does not resolve.
 */
export async function resolveRepositoryHost(
  rules: RepositoryRules,
  location: Exclude<RepositoryLocation, { kind: 'local' }>,
): Promise<ResolvedAddress[]> {
  if (location.kind === 'http' && !rules.repositoryAllowHttp) {
    throw blocked('repository_url is blocked: http:// is turned off on this instance, use https://');
  }
  const literal = isIP(location.host);
  let addresses: ResolvedAddress[];
  if (literal !== 0) {
    addresses = [{ address: location.host, family: literal as 4 | 6 }];
  } else {
    try {
      addresses = (await lookup(location.host, { all: true, verbatim: true })).map((entry) => ({
        address: entry.address,
        family: entry.family as 4 | 6,
      }));
    } catch {
      throw blocked(`repository_url is blocked: host ${location.host} could not be resolved`);
    }
  }
  if (addresses.length === 0) {
    throw blocked(`repository_url is blocked: host ${location.host} could not be resolved`);
  }
  if (!rules.allowLocalNetwork) {
    for (const { address, family } of addresses) {
      if (isLocalAddress(address, family)) {
        throw blocked(
          'repository_url is blocked: requests to the local network are not allowed (TESSERA_ALLOW_LOCAL_NETWORK)',
        );
      }
    }
  }
  return addresses;
}

const LOCAL_NETWORK = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network", 0.0.0.0 reaches the local host
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // shared address space (CGNAT)
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, where cloud metadata services answer
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the limited broadcast address
] as const) {
  LOCAL_NETWORK.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  LOCAL_NETWORK.addSubnet(network, prefix, 'ipv6');
}

/** Whether `address` is on the local network (IPv4-mapped and NAT64-free IPv6 forms included). */
export function isLocalAddress(address: string, family: 4 | 6): boolean {
  if (family === 6) {
    const mapped = mappedIpv4(address);
    if (mapped !== undefined) return LOCAL_NETWORK.check(mapped, 'ipv4');
    return LOCAL_NETWORK.check(address, 'ipv6');
  }
  return LOCAL_NETWORK.check(address, 'ipv4');
}

/** The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`) or IPv4-compatible IPv6 address. */
function mappedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:0{0,4}:){0,5}(?:ffff:)?(\d+\.\d+\.\d+\.\d+)$/.exec(lower.replace(/^::/, '0:'));
  if (dotted?.[1]) return dotted[1];
  const hex = /^::(?:ffff:)?([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex?.[1] && hex[2]) {
    const high = Number.parseInt(hex[1], 16);
    const low = Number.parseInt(hex[2], 16);
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  return undefined;
}
