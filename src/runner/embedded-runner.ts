import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RunnerAgent } from './agent.js';

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
  /** Jobs run at once; default 2. */
  readonly concurrency?: number;
  /** Runner diagnostics. */
  readonly log?: (message: string) => void;
}

async function tokenStillValid(url: string, token: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/api/v4/runners/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
      signal: AbortSignal.timeout(10_000),
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/**
 * Runs a runner inside the coordinator process (`tessera serve --embedded-runner`), for a
 * one-machine setup. It talks to the coordinator over loopback HTTP like any runner, so it obeys
 * the same protocol, leases and cancels. The runner is registered once; its token is kept in the
 * data directory (0600) and reused after a restart while the coordinator still accepts it, so
 * restarts do not pile up runners. Build directories live in `<dataDir>/builds`.
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
    buildsDir: join(options.dataDir, 'builds'),
    concurrency: options.concurrency ?? 2,
    log: options.log,
  });
  await agent.start();
  return agent;
}
