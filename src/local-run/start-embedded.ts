import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningServer, startServer } from '../cli/serve.js';
import { loadConfig } from '../config/load.js';
import { gitReader } from '../coordinator/create-pipeline.js';
import { objectFormatOf } from '../git/repository-skeleton.js';
import { RunnerAgent } from '../runner/agent.js';
import { warmCache } from '../runner/checkout.js';
import { repositoryCacheDir } from '../runner/execute-job.js';
import type { JobExecutor } from '../runner/executors/executor.js';
import { generateLocalKeyPairs } from './generate-local-key-pairs.js';

/** An embedded coordinator on loopback with a throwaway store, and the means to start its runner. */
export interface EmbeddedInstance {
  readonly server: RunningServer;
  /** The temporary directory holding the SQLite store, keys and builds. */
  readonly tempDir: string;
  /**
   * Starts the embedded runner (an in-process {@link RunnerAgent}) with `concurrency` workers;
   * `log` receives its diagnostics (never a token).
   */
  startRunner(
    concurrency: number,
    executor: JobExecutor | undefined,
    log?: (message: string) => void,
  ): Promise<void>;
  /**
   * Makes the coordinator's and the runner's repository caches of `repoUrl`, the working copy,
   * borrow its objects (`objectsDir`) in place instead of fetching them, and checks that the
   * runner's cache has `sha`, now, while the project is being registered: neither the pipeline's
   * creation nor the first jobs then wait for git. Never fails (the jobs' checkout reports).
   */
  warmRepositoryCaches(repoUrl: string, objectsDir: string, sha: string): void;
  /** Stops the runner (killing running jobs), the server, and removes the temporary directory. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a coordinator on `127.0.0.1`, port 0, with a SQLite store in a fresh temporary directory,
 * an issuer that follows the port, and an admin token and key-encryption key that live only in
 * this process. The user's `TESSERA_*` variables are deliberately ignored: a local run never
 * touches a configured instance or database. The signing keys are generated when a key is first
 * needed (see {@link generateLocalKeyPairs}): the first token, or the first look at the JWKS.
 */
export async function startEmbedded(options: { jobTimeout?: number } = {}): Promise<EmbeddedInstance> {
  const tempDir = await mkdtemp(join(tmpdir(), 'tessera-run-'));
  // The admin `root` runs the pipeline; giving it a token that lives only in this process keeps
  // the bootstrap from writing a token file. Nothing here uses the token: the run reads the store.
  const adminToken = `tessera-run-${randomBytes(24).toString('base64url')}`;
  let server: RunningServer;
  try {
    const config = loadConfig(
      {
        dataDir: join(tempDir, 'data'),
        host: '127.0.0.1',
        port: 0,
        issuer: 'http://127.0.0.1:0',
        logLevel: 'silent',
        // Nothing waits on a job request longer than needed: the runner is stopped at the end.
        jobRequestWait: 5,
        ...(options.jobTimeout === undefined ? {} : { jobTimeout: options.jobTimeout }),
      },
      {},
    );
    server = await startServer(config, {
      env: {
        TESSERA_BOOTSTRAP_ADMIN_TOKEN: adminToken,
        // In memory only: no key file to write and fsync, and the sealed keys in the temporary
        // store can never be opened once the process is gone.
        TESSERA_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      },
      notice: () => undefined,
      // Ctrl-C must not wait on a connection that will never send a request.
      closeGraceMs: 500,
      // A route whose validator was not generated at build time (a run from src/) compiles it when
      // first called: a local run calls a handful of routes.
      compileSchemasOnFirstUse: true,
      // Its one personal access token never leaves this process: nobody could call the API v4.
      api: false,
      generateKeyPairs: generateLocalKeyPairs,
      // Built beside the code by `npm run build`; absent when running the TypeScript sources.
      sqliteTemplate: fileURLToPath(new URL('../store-template/tessera.db', import.meta.url)),
    });
  } catch (error) {
    await rm(tempDir, { recursive: true, force: true });
    throw error;
  }
  let agent: RunnerAgent | undefined;
  let runnerStarting: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  let warming: Promise<void> | undefined;
  const stopWarming = new AbortController();
  const buildsDir = join(tempDir, 'builds');
  return {
    server,
    tempDir,
    startRunner: (concurrency, executor, log) => {
      if (runnerStarting) throw new TypeError('the embedded runner is already started');
      runnerStarting = (async () => {
        const runner = await server.registerRunner({ description: 'tessera run' });
        // Closed while the runner was being registered: it must not start polling a closed server.
        if (closing) return;
        agent = new RunnerAgent({
          url: server.url,
          token: runner.token,
          buildsDir,
          concurrency,
          ...(executor ? { executor } : {}),
          // Short intervals: the terminal shows the log as it comes, and jobs are short-lived.
          traceIntervalMs: 100,
          keepaliveIntervalMs: 2000,
          backoffMinMs: 50,
          backoffMaxMs: 500,
          finalStateRetryMs: 5000,
          killGraceMs: 2000,
          // No later runner looks at this temporary builds directory for orphans to end.
          recordProcessGroups: false,
          // Registered a moment ago by this process, on a coordinator without the API routes.
          verify: false,
          ...(log ? { log } : {}),
        });
        await agent.start();
      })();
      return runnerStarting;
    },
    warmRepositoryCaches: (repoUrl, objectsDir, sha) => {
      warming ??= Promise.all([
        gitReader(server.coordinator)
          .borrowObjects(repoUrl, objectsDir, objectFormatOf(sha))
          .catch(() => undefined),
        warmCache({
          repoUrl,
          sha,
          cacheDir: repositoryCacheDir(buildsDir),
          borrowObjectsFrom: objectsDir,
          signal: stopWarming.signal,
        }),
      ]).then(() => undefined);
    },
    close: () => {
      closing ??= (async () => {
        try {
          // git must be done with the temporary directory before it is removed.
          stopWarming.abort();
          await warming;
          await runnerStarting?.catch(() => undefined);
          await agent?.stop('abort');
        } finally {
          try {
            await server.close();
          } finally {
            await rm(tempDir, { recursive: true, force: true, maxRetries: 3 });
          }
        }
      })();
      return closing;
    },
  };
}
