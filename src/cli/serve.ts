import { availableParallelism } from 'node:os';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type Command, Option } from 'commander';
import { expireArtifacts } from '../artifacts/expire-artifacts.js';
import type { TesseraConfig } from '../config/defaults.js';
import { type ConfigInput, loadConfig } from '../config/load.js';
import { autoStopEnvironments } from '../coordinator/auto-stop-environments.js';
import { bootstrapAdmin } from '../coordinator/bootstrap-admin.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import { createRunner } from '../coordinator/create-runner.js';
import { expireLeases } from '../coordinator/expire-leases.js';
import { promoteScheduledJobs } from '../coordinator/promote-scheduled-jobs.js';
import { startBridgeJobs } from '../coordinator/start-bridge-jobs.js';
import { TesseraError } from '../errors.js';
import { assertKeysOpen } from '../keys/assert-keys-open.js';
import { loadKeyEncryptionKey } from '../keys/key-encryption.js';
import { Keyring, type PendingKeyPairs } from '../keys/keyring.js';
import { SigningPool } from '../keys/signing-pool.js';
import { TESSERA_INSTALL_ROOT } from '../runner/agent.js';
import { embeddedBuildsDir, parseRunnerConcurrency, startEmbeddedRunner } from '../runner/embedded-runner.js';
import { chooseExecutor, dockerChoice } from '../runner/executors/create-executor.js';
import { resolveJobUser } from '../runner/job-user.js';
import { buildServer } from '../server/build-server.js';
import { loadPrecompiledValidators } from '../server/load-precompiled-validators.js';
import { openStore } from '../store/open-store.js';
import { repositories } from '../store/repositories.js';
import { startTriggerLoop, type TriggerLoop } from '../triggers/trigger-loop.js';
import { serveBanner } from './serve-banner.js';
import { settingHelp } from './setting-help.js';

// The request validators `npm run build` generates (scripts/build-validators.mjs). dist/cli/serve.js
// and the CLI bundle, dist/cli-bundle/main.cjs (whose import.meta.url is its own), both find them
// here; from src/ (tsx) there are none and every validator is compiled.
const GENERATED_VALIDATORS = new URL('../validators/validators.cjs', import.meta.url);

/** Options of {@link startServer} besides the configuration. */
export interface StartServerOptions {
  env?: Readonly<Record<string, string | undefined>>;
  clock?: () => number;
  logStream?: Writable;
  /** Where the one-time admin token notice goes (default stderr). */
  notice?: (line: string) => void;
  /** PostgreSQL schema (tests). */
  pgSchema?: string;
  /** Milliseconds between lease-expiry and key-maintenance sweeps (default 5000). */
  sweepInterval?: number;
  /**
   * Milliseconds `close()` lets open connections finish before cutting them (default: no limit).
   * `tessera run` sets it: a client that connects as the server closes and sends nothing (undici
   * does when its requests are aborted) would otherwise hold `close()` for a minute.
   */
  closeGraceMs?: number;
  /**
   * Worker threads that sign tokens (see `SigningPool`); by default one per core, at most 4, and
   * none when `api` is false (`tessera run` signs a handful of tokens).
   */
  signingThreads?: number;
  /** Compile request validators on each route's first call (`tessera run`: it calls only a few routes). */
  compileSchemasOnFirstUse?: boolean;
  /** `false`: only the routes runners and jobs call (`tessera run`; see `buildServer`'s `api`). */
  api?: boolean;
  /** A new SQLite store starts as a copy of this migrated, empty database (see `openStore`). */
  sqliteTemplate?: string;
  /**
   * Generates the signing keys when one is first needed (`tessera run`), instead of a `current`
   * and a `next` key of each lineage before listening (see `Keyring.adopt`).
   */
  generateKeyPairs?: () => PendingKeyPairs;
  /**
   * Milliseconds between two looks for due pipeline schedules and mirrors (default 1000); 0 runs
   * no trigger loop (`tessera run`, which serves no API to create either).
   */
  triggerTickMs?: number;
}

/** A running coordinator. */
export interface RunningServer {
  /** `http://host:port` the server listens on. */
  url: string;
  /** The issuer in use (the configured one, or `http://localhost:<port>` when bound to port 0). */
  issuer: string;
  /** The API base given to runners and jobs (`CI_SERVER_URL`): the issuer's origin. */
  serverUrl: string;
  coordinator: Coordinator;
  /** The loop that fires schedules and watches mirrors (none with `triggerTickMs: 0`). */
  triggerLoop: TriggerLoop | undefined;
  /** Creates an instance runner (for an embedded runner) and answers its id and token. */
  registerRunner(options?: { description?: string; tags?: string[] }): Promise<{ id: number; token: string }>;
  close(): Promise<void>;
}

/**
 * Starts the coordinator: opens (and migrates) the store, loads the key-encryption key, makes
 * sure an RS256 and an ES256 key lineage exist, bootstraps `root`, builds the server (with the
 * request validators generated at build time, when there are) and listens.
 * With port 0 and no configured issuer, the issuer follows the port the system picked.
 */
export async function startServer(
  config: TesseraConfig,
  options: StartServerOptions = {},
): Promise<RunningServer> {
  const env = options.env ?? process.env;
  const clock = options.clock ?? Date.now;
  const notice = options.notice ?? ((line: string) => process.stderr.write(`${line}\n`));
  const store = await openStore({
    database: config.database,
    dataDir: config.dataDir,
    pgPreparedStatements: config.databasePreparedStatements,
    ...(options.pgSchema ? { pgSchema: options.pgSchema } : {}),
    ...(options.sqliteTemplate ? { sqliteTemplate: options.sqliteTemplate } : {}),
  });
  const signingThreads =
    options.signingThreads ?? (options.api === false ? 0 : Math.min(4, availableParallelism()));
  const signingPool = signingThreads > 0 ? new SigningPool(signingThreads) : undefined;
  try {
    const kek = await loadKeyEncryptionKey({ env, dataDir: config.dataDir });
    const keyring = new Keyring({
      repository: repositories(store.db).signingKeys,
      ...(signingPool ? { signingPool } : {}),
      kek: kek.key,
      clock,
      jwksCachePeriod: config.jwksCachePeriod,
      maxTokenLifetime: config.tokenMaxLifetime,
    });
    if (options.generateKeyPairs) keyring.adopt(options.generateKeyPairs);
    else {
      await keyring.ensureKeys(['RS256', 'ES256']);
      // A wrong key-encryption key would otherwise surface only at the first mint, as a failed job.
      await assertKeysOpen(keyring, kek);
    }
    const issuerPort = new URL(config.issuer).port;
    const followPort = config.port === 0 && issuerPort === '0';
    const urls = { issuer: config.issuer, serverUrl: new URL(config.issuer).origin };
    const precompiledValidators = loadPrecompiledValidators(fileURLToPath(GENERATED_VALIDATORS));
    const { app, coordinator } = buildServer(config, {
      store,
      keyring,
      urls,
      clock,
      ...(options.logStream ? { logStream: options.logStream } : {}),
      ...(options.compileSchemasOnFirstUse ? { compileSchemasOnFirstUse: true } : {}),
      ...(options.api === false ? { api: false } : {}),
      ...(precompiledValidators ? { precompiledValidators } : {}),
      secrets: operatorSecrets(env),
    });
    // An s3:// store without credentials is a configuration error: say so now, not at the first upload.
    app.log.info({ artifactStore: coordinator.artifactStore.description }, 'artifact store');
    try {
      await app.listen({ host: config.host, port: config.port });
    } catch (error) {
      await app.close();
      throw listenError(config, error);
    }
    // After listening: a start that fails on its port must not create (and print) the admin token.
    const bootstrap = await bootstrapAdmin({ store, dataDir: config.dataDir, env, clock });
    if (bootstrap.generatedToken) {
      notice(
        `Created the admin user root. Its access token (shown once, also in ${bootstrap.tokenFile}): ${bootstrap.generatedToken}`,
      );
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}`;
    if (followPort) {
      const issuer = new URL(config.issuer);
      issuer.port = String(port);
      urls.issuer = issuer.href.replace(/\/$/, '');
      urls.serverUrl = issuer.origin;
    }
    const sweep = setInterval(() => {
      void expireLeases(coordinator).catch((error: unknown) =>
        app.log.error({ err: error }, 'lease sweep failed'),
      );
      void expireArtifacts(coordinator).catch((error: unknown) =>
        app.log.error({ err: error }, 'artifact sweep failed'),
      );
      void promoteScheduledJobs(coordinator).catch((error: unknown) =>
        app.log.error({ err: error }, 'delayed job sweep failed'),
      );
      void autoStopEnvironments(coordinator).catch((error: unknown) =>
        app.log.error({ err: error }, 'environment auto-stop sweep failed'),
      );
      // Bridges left pending by a restart, or made pending on another node, start here too.
      void startBridgeJobs(coordinator).catch((error: unknown) =>
        app.log.error({ err: error }, 'bridge job sweep failed'),
      );
      void keyring
        .maintain()
        .catch((error: unknown) => app.log.error({ err: error }, 'key maintenance failed'));
    }, options.sweepInterval ?? 5000);
    sweep.unref();
    const tickMs = options.triggerTickMs ?? (options.api === false ? 0 : 1000);
    const triggerLoop = tickMs > 0 ? startTriggerLoop(coordinator, { tickMs, log: app.log }) : undefined;
    return {
      triggerLoop,
      url,
      get issuer() {
        return urls.issuer;
      },
      get serverUrl() {
        return urls.serverUrl;
      },
      coordinator,
      registerRunner: async (runner = {}) => {
        const created = await createRunner(coordinator, {
          runnerType: 'instance_type',
          description: runner.description ?? 'embedded runner',
          tagList: runner.tags ?? [],
          runUntagged: true,
        });
        return { id: created.runner.id, token: created.token };
      },
      close: async () => {
        clearInterval(sweep);
        await triggerLoop?.stop();
        const grace = options.closeGraceMs;
        const cut =
          grace === undefined ? undefined : setTimeout(() => app.server.closeAllConnections(), grace);
        await app.close().finally(() => clearTimeout(cut));
        await store.close();
        await signingPool?.close();
      },
    };
  } catch (error) {
    await store.close();
    await signingPool?.close();
    throw error;
  }
}

/** `ERR_SERVER_LISTEN_FAILED` saying why the address could not be bound and which setting to change. */
function listenError(config: TesseraConfig, error: unknown): TesseraError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const address = `${config.host.includes(':') ? `[${config.host}]` : config.host}:${config.port}`;
  const why =
    code === 'EADDRINUSE'
      ? `port ${config.port} is already in use on ${config.host} (another tessera serve, or another program): choose another with --port (TESSERA_PORT), or stop the other process`
      : code === 'EACCES'
        ? `this user may not listen on port ${config.port} (ports below 1024 need privileges): choose another with --port (TESSERA_PORT)`
        : code === 'EADDRNOTAVAIL'
          ? `${config.host} is not an address of this machine: choose another with --host (TESSERA_HOST)`
          : `${code ?? (error instanceof Error ? error.message : 'unknown error')}: check --host (TESSERA_HOST) and --port (TESSERA_PORT)`;
  return new TesseraError('ERR_SERVER_LISTEN_FAILED', `cannot listen on ${address}: ${why}`, {
    cause: error,
  });
}

interface ServeFlags {
  dataDir?: string;
  host?: string;
  port?: string;
  issuer?: string;
  database?: string;
  logLevel?: string;
  artifactsStore?: string;
  embeddedRunner?: boolean;
  runnerConcurrency?: string;
  runnerBuildsDir?: string;
  runnerJobUser?: string;
  runnerExecutor?: string;
  runnerSandboxNetwork?: string;
}

/** The command-line flags of `tessera serve`, as configuration overrides. */
export function serveOverrides(flags: ServeFlags): ConfigInput {
  return {
    dataDir: flags.dataDir,
    host: flags.host,
    port: flags.port,
    issuer: flags.issuer,
    database: flags.database,
    logLevel: flags.logLevel,
    artifactsStore: flags.artifactsStore,
  };
}

/**
 * Registers `tessera serve [--data-dir DIR] [--host H] [--port P] [--issuer URL] [--database URL]
 * [--log-level L] [--embedded-runner [--runner-concurrency N] [--runner-builds-dir DIR]
 * [--runner-job-user USER]]`; every flag also comes from its `TESSERA_*` variable
 * (docs/configuration.md). Runs until SIGINT or SIGTERM.
 */
export function registerServeCommand(program: Command): Command {
  return program
    .command('serve')
    .description('Run the Tessera coordinator (API, runner protocol, ID tokens, OIDC discovery)')
    .option(
      '--data-dir <dir>',
      `data directory: SQLite database, key-encryption key, admin token ${settingHelp('dataDir')}`,
    )
    .option('--host <host>', `address to listen on ${settingHelp('host')}`)
    .option('--port <port>', `port to listen on, 0 for any free port ${settingHelp('port')}`)
    .option('--issuer <url>', `issuer URL: iss of every token, discovery issuer ${settingHelp('issuer')}`)
    .option('--database <url>', `postgres:// URL of the database ${settingHelp('database')}`)
    .option(
      '--log-level <level>',
      `fatal, error, warn, info, debug, trace or silent ${settingHelp('logLevel')}`,
    )
    .option(
      '--artifacts-store <store>',
      `a directory, or s3://bucket[/prefix] ${settingHelp('artifactsStore')}`,
    )
    .option('--embedded-runner', 'also run jobs in this process (one-machine setup; default: off)')
    .addOption(
      new Option('--runner-concurrency <n>', 'jobs the embedded runner runs at once').default('2', '2'),
    )
    .option(
      '--runner-builds-dir <dir>',
      'build directories of the embedded runner, never inside the data directory (default: <data-dir>-builds)',
    )
    .option(
      '--runner-job-user <user>',
      'run embedded-runner jobs as this unprivileged user; serve must run as root (default: the user of serve)',
    )
    .option(
      '--runner-executor <name>',
      'embedded runner executor: sandbox, shell or docker (env: TESSERA_RUNNER_EXECUTOR; default: sandbox where bubblewrap works, else shell with a warning; docker takes the TESSERA_RUNNER_DOCKER_* variables)',
    )
    .option(
      '--runner-sandbox-network <mode>',
      'network of sandboxed jobs: host or none (env: TESSERA_RUNNER_SANDBOX_NETWORK; default: host)',
    )
    .action(async (flags: ServeFlags) => {
      const config = loadConfig(serveOverrides(flags));
      const concurrency = parseRunnerConcurrency(flags.runnerConcurrency);
      const jobUser =
        flags.embeddedRunner && flags.runnerJobUser ? resolveJobUser(flags.runnerJobUser) : undefined;
      const buildsDir = embeddedBuildsDir(config.dataDir, flags.runnerBuildsDir);
      const chosen = flags.embeddedRunner
        ? chooseExecutor({
            name: flags.runnerExecutor ?? process.env.TESSERA_RUNNER_EXECUTOR,
            sandboxNetwork: flags.runnerSandboxNetwork ?? process.env.TESSERA_RUNNER_SANDBOX_NETWORK,
            installRoot: TESSERA_INSTALL_ROOT,
            hiddenPaths: [config.dataDir],
            ...dockerChoice({}),
            ...(jobUser ? { jobUser } : {}),
          })
        : undefined;
      const server = await startServer(config);
      process.stderr.write(`tessera serve: listening on ${server.url}, issuer ${server.issuer}\n`);
      const log = (message: string) => process.stderr.write(`tessera serve: embedded runner: ${message}\n`);
      if (chosen?.fallbackReason !== undefined) {
        log(
          `WARNING: jobs are not sandboxed (${chosen.fallbackReason}): they can read this instance's signing keys`,
        );
      }
      const runner = chosen
        ? await startEmbeddedRunner(server, {
            dataDir: config.dataDir,
            buildsDir,
            executor: chosen.executor,
            concurrency,
            log,
          })
        : undefined;
      process.stderr.write(
        serveBanner({
          server,
          config,
          embeddedRunner: chosen && {
            concurrency,
            executor: chosen.executor.name,
            ...(chosen.fallbackReason === undefined ? {} : { unsandboxedReason: chosen.fallbackReason }),
          },
        }),
      );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await runner?.stop('abort');
      await server.close();
    });
}

/** Environment variable of the instance introspection token (see docs/configuration.md). */
export const INTROSPECTION_TOKEN_ENV = 'TESSERA_INTROSPECTION_TOKEN';
/** Environment variable of the metrics bearer token. */
export const METRICS_TOKEN_ENV = 'TESSERA_METRICS_TOKEN';

/**
 * The operator's secrets from the environment, each at least 16 characters without spaces (like
 * the bootstrap admin token), so a short guessable value cannot open introspection or metrics.
 *
 * @throws TesseraError `ERR_CONFIG_INVALID` naming the variable.
 */
function operatorSecrets(env: Readonly<Record<string, string | undefined>>) {
  const read = (name: string) => {
    const value = env[name];
    if (value === undefined || value === '') return undefined;
    if (value.length < 16 || /\s/.test(value)) {
      throw new TesseraError('ERR_CONFIG_INVALID', `${name} must be at least 16 characters without spaces`);
    }
    return value;
  };
  return { introspectionToken: read(INTROSPECTION_TOKEN_ENV), metricsToken: read(METRICS_TOKEN_ENV) };
}
