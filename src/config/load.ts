import { isIP } from 'node:net';
import { isAbsolute } from 'node:path';
import { parseS3Url } from '../artifacts/s3-artifact-store.js';
import { TesseraError } from '../errors.js';
import { parseDuration } from '../pipeline/duration.js';
import { parseAddressList } from './address-list.js';
import { CONFIG_DEFAULTS, CONFIG_ENV, type TesseraConfig } from './defaults.js';

type Key = keyof TesseraConfig;
/** Raw settings as they come from the environment or the command line (strings or numbers). */
export type ConfigInput = { readonly [K in Key]?: string | number | boolean | undefined };

const BOOLEAN_WORDS = new Map([
  ['true', true],
  ['1', true],
  ['yes', true],
  ['false', false],
  ['0', false],
  ['no', false],
]);

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Inclusive bounds of each numeric setting. */
const NUMBER_BOUNDS: { readonly [K in Key]?: readonly [number, number] } = {
  port: [0, 65535],
  tokenMaxLifetime: [60, 86400],
  onDemandDefaultLifetime: [60, 86400],
  jwksCachePeriod: [0, 86400],
  jobTimeout: [10, 7 * 86400],
  leaseTimeout: [5, 86400],
  jobRequestWait: [0, 120],
  tokenRateLimit: [1, 1_000_000],
  authRateLimit: [1, 1_000_000],
  introspectionRateLimit: [1, 1_000_000],
  mirrorInterval: [1, 86400],
  maxArtifactsSize: [1, 1024 * 1024],
  includeRemoteTimeout: [1, 60],
};

/**
 * Builds the one configuration: defaults, overridden by `TESSERA_*` environment variables,
 * overridden by `overrides` (the command line). Validates every setting and freezes the result.
 *
 * @throws TesseraError `ERR_CONFIG_INVALID` naming the setting (and its variable) and what to write.
 * @example
 * ```ts
 * const config = loadConfig({ port: 0, dataDir: tmp }, {});
 * ```
 */
export function loadConfig(overrides: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): TesseraConfig {
  const problems: string[] = [];
  const out: Record<string, string | number | boolean> = {};
  for (const key of Object.keys(CONFIG_DEFAULTS) as Key[]) {
    const fallback = CONFIG_DEFAULTS[key];
    const raw = overrides[key] ?? env[CONFIG_ENV[key]] ?? fallback;
    const where = `${key} (${CONFIG_ENV[key]})`;
    if (typeof fallback === 'boolean') {
      const value = typeof raw === 'boolean' ? raw : BOOLEAN_WORDS.get(String(raw).trim().toLowerCase());
      if (value === undefined) problems.push(`${where} must be true or false`);
      out[key] = value ?? fallback;
    } else if (typeof fallback === 'number') {
      const value =
        typeof raw === 'number'
          ? raw
          : typeof raw === 'string' && /^\d+$/.test(raw.trim())
            ? Number(raw.trim())
            : Number.NaN;
      const [min, max] = NUMBER_BOUNDS[key] ?? [0, Number.MAX_SAFE_INTEGER];
      if (!Number.isSafeInteger(value) || value < min || value > max) {
        problems.push(`${where} must be a whole number from ${min} to ${max}`);
      }
      out[key] = value;
    } else {
      out[key] = String(raw).trim();
    }
  }
  const config = out as unknown as TesseraConfig;
  if (!LOG_LEVELS.has(config.logLevel)) {
    problems.push(`logLevel (TESSERA_LOG_LEVEL) must be one of ${[...LOG_LEVELS].join(', ')}`);
  }
  if (config.dataDir === '') problems.push('dataDir (TESSERA_DATA_DIR) must not be empty');
  if (config.database !== '' && !/^postgres(ql)?:\/\//.test(config.database)) {
    problems.push('database (TESSERA_DATABASE_URL) must be a postgres:// URL, or empty for SQLite');
  }
  if (config.issuer !== '') {
    const problem = issuerProblem(config.issuer);
    if (problem) problems.push(`issuer (TESSERA_ISSUER) ${problem}`);
  }
  try {
    parseAddressList(config.metricsAllow);
  } catch (error) {
    problems.push(`metricsAllow (TESSERA_METRICS_ALLOW): ${(error as Error).message}`);
  }
  for (const directory of localRepositoryDirectories(config)) {
    if (!isAbsolute(directory)) {
      problems.push(
        `repositoryAllowLocal (TESSERA_REPOSITORY_ALLOW_LOCAL) must list absolute directories, not "${directory}"`,
      );
    }
  }
  if (config.artifactsStore.startsWith('s3://')) {
    if (parseS3Url(config.artifactsStore) === undefined)
      problems.push(
        'artifactsStore (TESSERA_ARTIFACTS_STORE) must be s3://bucket or s3://bucket/prefix (a valid bucket name)',
      );
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(config.artifactsStore)) {
    problems.push(
      'artifactsStore (TESSERA_ARTIFACTS_STORE) must be a directory path, s3://bucket, or empty for <dataDir>/artifacts',
    );
  }
  if (config.artifactsS3Endpoint !== '' && !/^https?:\/\/[^/]+\/?$/.test(config.artifactsS3Endpoint)) {
    problems.push(
      'artifactsS3Endpoint (TESSERA_ARTIFACTS_S3_ENDPOINT) must be an http(s) URL without a path, such as https://minio.internal:9000',
    );
  }
  if (!/^[a-z0-9-]{1,32}$/.test(config.artifactsS3Region)) {
    problems.push(
      'artifactsS3Region (TESSERA_ARTIFACTS_S3_REGION) must be a region name such as eu-central-1',
    );
  }
  if (
    config.artifactsExpireIn.toLowerCase() !== 'never' &&
    parseDuration(config.artifactsExpireIn) === null
  ) {
    problems.push(
      'artifactsExpireIn (TESSERA_ARTIFACTS_EXPIRE_IN) must be a duration such as "30 days", or never',
    );
  }
  for (const host of includeRemoteHosts(config)) {
    if (!isHostName(host)) {
      problems.push(
        `includeRemoteHosts (TESSERA_INCLUDE_REMOTE_HOSTS) must list host names or IP addresses (no scheme, port or path), not "${host}"`,
      );
    }
  }
  if (config.includeRemoteCaFile !== '' && !isAbsolute(config.includeRemoteCaFile)) {
    problems.push('includeRemoteCaFile (TESSERA_INCLUDE_REMOTE_CA_FILE) must be an absolute path');
  }
  if (config.onDemandDefaultLifetime > config.tokenMaxLifetime) {
    problems.push('onDemandDefaultLifetime must not exceed tokenMaxLifetime');
  }
  if (problems.length > 0) {
    throw new TesseraError('ERR_CONFIG_INVALID', `invalid configuration: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  return Object.freeze({ ...config, issuer: config.issuer || defaultIssuer(config.host, config.port) });
}

/** The directories of `repositoryAllowLocal`, each without a trailing slash. */
export function localRepositoryDirectories(config: Pick<TesseraConfig, 'repositoryAllowLocal'>): string[] {
  return config.repositoryAllowLocal
    .split(',')
    .map((directory) => directory.trim())
    .filter((directory) => directory !== '')
    .map((directory) => (directory.length > 1 ? directory.replace(/\/+$/, '') : directory));
}

/** The hosts of `includeRemoteHosts`, lower-cased, IPv6 addresses without brackets. */
export function includeRemoteHosts(config: Pick<TesseraConfig, 'includeRemoteHosts'>): string[] {
  return config.includeRemoteHosts
    .split(',')
    .map((host) =>
      host
        .trim()
        .toLowerCase()
        .replace(/^\[(.*)\]$/, '$1'),
    )
    .filter((host) => host !== '');
}

/** A DNS name (letters, digits, hyphens, dots) or an IP address. */
function isHostName(host: string): boolean {
  return (
    isIP(host) !== 0 ||
    /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$/.test(host)
  );
}

/** Why a string is not usable as an issuer URL, or undefined when it is. */
function issuerProblem(issuer: string): string | undefined {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return 'must be an absolute http(s) URL such as https://ci.example.com';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must use https (or http for local use)';
  if (url.search || url.hash) return 'must not have a query or fragment';
  if (url.username || url.password) return 'must not contain credentials';
  if (issuer.endsWith('/')) return 'must not end with a slash (it is compared byte for byte)';
  return undefined;
}

function defaultIssuer(host: string, port: number): string {
  const name =
    host === '0.0.0.0' || host === '::' || host === '127.0.0.1' || host === '::1' ? 'localhost' : host;
  return `http://${name.includes(':') ? `[${name}]` : name}:${port}`;
}
