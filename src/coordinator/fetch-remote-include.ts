import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import type { TesseraConfig } from '../config/defaults.js';
import { includeRemoteHosts } from '../config/load.js';
import { displayUrl, type FetchRemoteFile } from '../pipeline/include-remote.js';
import { PIPELINE_LIMITS } from '../pipeline/limits.js';

/** The settings {@link createRemoteIncludeFetcher} reads. */
export type RemoteIncludeSettings = Pick<
  TesseraConfig,
  'includeRemoteHosts' | 'includeRemoteAllowHttp' | 'includeRemoteTimeout' | 'includeRemoteCaFile'
>;

/** Redirects followed per file, each to a URL that passes the same checks as the first. */
export const MAX_REMOTE_INCLUDE_REDIRECTS = 3;

/**
 * Addresses no remote include may reach, whatever the allow-list says: "this network",
 * link-local (where cloud metadata services answer), multicast and reserved ones. Loopback and
 * private addresses are allowed, because a host reaches this point only when an administrator
 * named it in `includeRemoteHosts` (an internal GitLab or file server is the common case).
 */
const NEVER_REACHED = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['169.254.0.0', 16],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  NEVER_REACHED.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  NEVER_REACHED.addSubnet(network, prefix, 'ipv6');
}

interface Address {
  readonly address: string;
  readonly family: 4 | 6;
}

type Answer = { body: Buffer } | { redirect: string } | { error: string };

/**
 * The coordinator's `include:remote` fetcher for one configuration load. Every URL (the first and
 * each redirect target) must be `https://` (or `http://` with `includeRemoteAllowHttp`), name a host
 * of `includeRemoteHosts` exactly, carry no credentials, and resolve to no link-local, unspecified
 * or multicast address; the connection is pinned to the addresses checked. A file may be at most
 * {@link PIPELINE_LIMITS.maxFileBytes} bytes of UTF-8, and all the files of one load share one
 * deadline of `includeRemoteTimeout` seconds. TLS is verified against the system's CAs, plus
 * those of `includeRemoteCaFile`.
 */
export function createRemoteIncludeFetcher(
  settings: RemoteIncludeSettings,
  clock: () => number = Date.now,
): FetchRemoteFile {
  const hosts = new Set(includeRemoteHosts(settings));
  const deadline = clock() + settings.includeRemoteTimeout * 1000;
  let ca: Promise<string[] | { error: string }> | undefined;
  const trusted = () => {
    ca ??= readFile(settings.includeRemoteCaFile, 'utf8').then(
      (pem) => [...rootCertificates, pem],
      () => ({
        error: `the CA file of includeRemoteCaFile (TESSERA_INCLUDE_REMOTE_CA_FILE) cannot be read`,
      }),
    );
    return ca;
  };

  const refusal = (url: URL): string | null => {
    if (url.protocol === 'http:' && !settings.includeRemoteAllowHttp)
      return 'plain http:// is turned off for remote includes on this instance (TESSERA_INCLUDE_REMOTE_ALLOW_HTTP); use https://';
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      return `${url.protocol.slice(0, -1)}:// is not supported; use https://`;
    if (url.username !== '' || url.password !== '')
      return 'the URL carries credentials; remote includes are fetched without authentication';
    const host = hostOf(url);
    if (hosts.size === 0)
      return `host ${host} is not allowed: this instance allows remote includes from no host (an administrator lists hosts in TESSERA_INCLUDE_REMOTE_HOSTS)`;
    if (!hosts.has(host))
      return `host ${host} is not on this instance's list of hosts for remote includes (TESSERA_INCLUDE_REMOTE_HOSTS); copy the file into the repository and use include:local, or ask an administrator to list the host`;
    return null;
  };

  return async (first) => {
    let url = new URL(first.href);
    for (let hop = 0; ; hop += 1) {
      const refused = refusal(url);
      if (refused !== null)
        return { error: hop === 0 ? refused : `redirected to ${displayUrl(url)}: ${refused}` };
      const remaining = deadline - clock();
      if (remaining <= 0) return { error: timeoutMessage(settings) };
      const signal = AbortSignal.timeout(remaining);
      const addresses = await resolveHost(hostOf(url), signal);
      if ('error' in addresses) return addresses;
      let caList: string[] | undefined;
      if (url.protocol === 'https:' && settings.includeRemoteCaFile !== '') {
        const read = await trusted();
        if ('error' in read) return read;
        caList = read;
      }
      const answer = await fetchOnce(url, addresses, caList, signal, settings);
      if ('body' in answer) {
        try {
          return { content: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(answer.body) };
        } catch {
          return { error: 'the file is not UTF-8 text' };
        }
      }
      if ('error' in answer) return answer;
      if (hop >= MAX_REMOTE_INCLUDE_REDIRECTS)
        return { error: `more than ${MAX_REMOTE_INCLUDE_REDIRECTS} redirects; include the final URL` };
      let next: URL;
      try {
        next = new URL(answer.redirect, url);
      } catch {
        return { error: 'answered a redirect to something that is not a URL' };
      }
      next.hash = '';
      url = next;
    }
  };
}

function timeoutMessage(settings: RemoteIncludeSettings): string {
  return `no answer in time: the remote includes of one configuration may take ${settings.includeRemoteTimeout} s together (TESSERA_INCLUDE_REMOTE_TIMEOUT)`;
}

/** The URL's host as the allow-list holds it: lower case, IPv6 without brackets. */
function hostOf(url: URL): string {
  return url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
}

async function resolveHost(host: string, signal: AbortSignal): Promise<Address[] | { error: string }> {
  const literal = isIP(host);
  let addresses: Address[];
  if (literal !== 0) addresses = [{ address: host, family: literal as 4 | 6 }];
  else {
    const aborted = new Promise<'timeout'>((resolve) =>
      signal.addEventListener('abort', () => resolve('timeout'), { once: true }),
    );
    const found = await Promise.race([
      lookup(host, { all: true, verbatim: true }).catch(() => 'unresolved' as const),
      aborted,
    ]);
    if (found === 'timeout') return { error: `host ${host} did not resolve in time` };
    if (found === 'unresolved' || found.length === 0) return { error: `host ${host} could not be resolved` };
    addresses = found.map((entry) => ({ address: entry.address, family: entry.family === 6 ? 6 : 4 }));
  }
  for (const { address, family } of addresses) {
    if (NEVER_REACHED.check(address, family === 6 ? 'ipv6' : 'ipv4'))
      return {
        error: `host ${host} resolves to ${address}, a link-local, unspecified or multicast address that remote includes never reach`,
      };
  }
  return addresses;
}

/** One GET, connected only to `addresses` (so a DNS answer that changes meanwhile reaches nothing else). */
function fetchOnce(
  url: URL,
  addresses: readonly Address[],
  ca: string[] | undefined,
  signal: AbortSignal,
  settings: RemoteIncludeSettings,
): Promise<Answer> {
  const pinned: LookupFunction = (_hostname, options, callback) => {
    const first = addresses[0]!;
    if (options.all)
      callback(
        null,
        addresses.map((entry) => ({ ...entry })),
      );
    else callback(null, first.address, first.family);
  };
  const limit = PIPELINE_LIMITS.maxFileBytes;
  const tooLarge = `the file is larger than the limit of ${limit} bytes on a configuration file`;
  return new Promise<Answer>((resolve) => {
    const transport = url.protocol === 'https:' ? https : http;
    const request = transport.request(url, {
      method: 'GET',
      agent: false,
      lookup: pinned,
      signal,
      headers: {
        accept: 'application/yaml, text/yaml, text/plain, */*',
        'accept-encoding': 'identity',
        'user-agent': 'Tessera include:remote',
      },
      ...(ca === undefined ? {} : { ca }),
    });
    const fail = (error: Error & { code?: string }) => {
      if (error.name === 'AbortError' || signal.aborted) resolve({ error: timeoutMessage(settings) });
      else resolve({ error: `the request failed: ${error.message}` });
    };
    request.on('error', fail);
    request.on('response', (response) => {
      response.on('error', fail);
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400 && typeof response.headers.location === 'string') {
        response.resume();
        resolve({ redirect: response.headers.location });
        return;
      }
      if (status !== 200) {
        response.resume();
        resolve({ error: `answered HTTP ${status}${status === 404 ? ' (not found)' : ''}` });
        return;
      }
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > limit) {
        resolve({ error: tooLarge });
        request.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          resolve({ error: tooLarge });
          request.destroy();
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () => resolve({ body: Buffer.concat(chunks) }));
      response.on('close', () => resolve({ error: 'the connection closed before the whole file arrived' }));
    });
    request.end();
  });
}
