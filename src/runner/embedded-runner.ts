import { open, readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { TesseraError } from '../errors.js';
import { RunnerAgent } from './agent.js';
import type { JobExecutor } from './executors/executor.js';
import { sendHttpRequest } from './send-http-request.js';

/** File in the data directory that keeps the embedded runner's token across restarts (mode 0600). */
export const EMBEDDED_RUNNER_TOKEN_FILE = 'embedded-runner-token';

/** What {@link startEmbeddedRunner} needs from a running coordinator (`startServer`'s answer). */
export interface EmbeddedRunnerHost {
  /** Where the coordinator listens (`http://127.0.0.1:port`). */
  readonly url: string;
  /** Creates an instance runner and answers its id and token. */
  registerRunner(options?: { description?: string; tags?: string[] }): Promise<{ id: number; token: string }>;
}

/** Options of {@link startEmbeddedRunner}. */
export interface EmbeddedRunnerOptions {
  /** The coordinator's data directory: holds the token file and `builds/`. */
  readonly dataDir: string;
  /** Build directories; default {@link embeddedBuildsDir}. */
  readonly buildsDir?: string;
  /** What runs the jobs; default the `shell` executor. */
  readonly executor?: JobExecutor;
  /** Jobs run at once; default 2. */
  readonly concurrency?: number;
  /** Runner diagnostics. */
  readonly log?: (message: string) => void;
}

async function tokenStillValid(url: string, token: string): Promise<boolean> {
  try {
    const response = await sendHttpRequest(`${url}/api/v4/runners/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
      timeoutMs: 10_000,
    });
    return response.status >= 200 && response.status <= 299;
  } catch {
    return false;
  }
}

/**
 * Runs a runner inside the coordinator process (`tessera serve --embedded-runner`), for a
 * one-machine setup. It talks to the coordinator over loopback HTTP like any runner, so it obeys
 * the same protocol, leases and cancels. The runner is registered once; its token is kept in the
 * data directory (0600) and reused after a restart while the coordinator still accepts it, so
 * restarts do not pile up runners. Build directories live outside the data directory.
 */
export async function startEmbeddedRunner(
  host: EmbeddedRunnerHost,
  options: EmbeddedRunnerOptions,
): Promise<RunnerAgent> {
  const tokenFile = join(options.dataDir, EMBEDDED_RUNNER_TOKEN_FILE);
  let token = (await readFile(tokenFile, 'utf8').catch(() => '')).trim();
  if (token === '' || !(await tokenStillValid(host.url, token))) {
    token = (await host.registerRunner({ description: 'embedded runner' })).token;
    const handle = await open(tokenFile, 'w', 0o600);
    try {
      await handle.writeFile(`${token}\n`);
      await handle.chmod(0o600);
    } finally {
      await handle.close();
    }
  }
  const agent = new RunnerAgent({
    url: host.url,
    token,
    buildsDir: options.buildsDir ?? embeddedBuildsDir(options.dataDir, undefined),
    concurrency: options.concurrency ?? 2,
    ...(options.executor ? { executor: options.executor } : {}),
    log: options.log,
    // Just verified (or registered) above.
    verify: false,
  });
  await agent.start();
  return agent;
}

/**
 * The embedded runner's builds directory: `--runner-builds-dir`, or `<data-dir>-builds` beside the
 * data directory. Never inside the data directory, which holds the database, the key-encryption
 * key and the admin token: a job's build directory must not lead there.
 *
 * @throws TesseraError `ERR_CONFIG_INVALID` for builds inside the data directory.
 */
export function embeddedBuildsDir(dataDir: string, buildsDir: string | undefined): string {
  const data = resolve(dataDir);
  const chosen = resolve(buildsDir ?? `${data}-builds`);
  const inside = relative(data, chosen);
  if (!inside.startsWith('..') && !isAbsolute(inside)) {
    throw new TesseraError(
      'ERR_CONFIG_INVALID',
      `--runner-builds-dir ${chosen} is inside the data directory ${data}: choose a directory outside it (jobs must not reach the data directory)`,
    );
  }
  return chosen;
}

/** Parses `--runner-concurrency`. */
export function parseRunnerConcurrency(value: string | undefined): number {
  if (value === undefined) return 2;
  if (!/^\d{1,3}$/.test(value) || Number(value) < 1) {
    throw new TesseraError('ERR_CONFIG_INVALID', '--runner-concurrency must be a whole number from 1 to 999');
  }
  return Number(value);
}
