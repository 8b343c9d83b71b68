/**
 * Shared set-up of the runner end-to-end tests: a real `tessera serve` process (SQLite in a temp
 * data directory), real `tessera runner` processes, real git repositories, and the coordinator's
 * GitLab-shaped API to drive them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stripTimestampPrefixes } from '../../src/job-log/timestamp-prefix.js';

export const TESSERA_BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));

/** A child process with its collected stderr. */
export interface Child {
  readonly process: ChildProcess;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function startTessera(args: readonly string[], env: Record<string, string> = {}): Child {
  const child = spawn(process.execPath, [TESSERA_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TESSERA_LOG_LEVEL: 'warn', ...env },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  child.stdout?.resume();
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    process: child,
    stderr: () => stderr,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A running coordinator process and an API client with the admin's token. */
export class Coordinator {
  readonly adminToken = `admin-${randomBytes(16).toString('hex')}`;
  readonly dataDir: string;
  url = '';
  issuer = '';
  child: Child | undefined;
  #port = 0;

  constructor(dataDir: string) {
    this.dataDir = dataDir;
    mkdirSync(dataDir, { recursive: true });
  }

  /** Starts `tessera serve` (again on the same port after a restart). */
  async start(extraArgs: readonly string[] = [], extraEnv: Record<string, string> = {}): Promise<void> {
    const child = startTessera(
      [
        'serve',
        '--data-dir',
        this.dataDir,
        '--host',
        '127.0.0.1',
        '--port',
        String(this.#port),
        ...extraArgs,
      ],
      { TESSERA_BOOTSTRAP_ADMIN_TOKEN: this.adminToken, TESSERA_KEY_ENCRYPTION_KEY: '', ...extraEnv },
    );
    this.child = child;
    const line = await waitFor(() => {
      const match = /listening on (\S+), issuer (\S+)/.exec(child.stderr());
      if (match) return match;
      if (child.process.exitCode !== null) throw new Error(`tessera serve exited: ${child.stderr()}`);
      return undefined;
    }, 'tessera serve to listen');
    this.url = line[1] as string;
    this.issuer = line[2] as string;
    this.#port = Number(new URL(this.url).port);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.child?.stop(signal);
  }

  async api<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T; text: string }> {
    const response = await fetch(`${this.url}/api/v4${path}`, {
      method,
      headers: {
        'private-token': this.adminToken,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // plain text (a job trace)
    }
    return { status: response.status, body: parsed as T, text };
  }

  async ok<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const answer = await this.api<T>(method, path, body);
    if (answer.status >= 300) throw new Error(`${method} ${path} answered ${answer.status}: ${answer.text}`);
    return answer.body;
  }

  /** Creates a group and a project whose repository is `repositoryUrl`; answers the project id. */
  async createProject(
    path: string,
    repositoryUrl: string,
    extra: Record<string, unknown> = {},
  ): Promise<number> {
    const group = await this.ok<{ id: number }>('POST', '/groups', {
      name: `${path}-group`,
      path: `${path}-group`,
    });
    const project = await this.ok<{ id: number }>('POST', '/projects', {
      name: path,
      path,
      namespace_id: group.id,
      repository_url: repositoryUrl,
      ...extra,
    });
    return project.id;
  }

  /** Registers an instance runner; answers its token. */
  async registerRunner(): Promise<string> {
    const runner = await this.ok<{ id: number; token: string }>('POST', '/user/runners', {
      runner_type: 'instance_type',
      description: 'e2e',
    });
    return runner.token;
  }

  async createPipeline(projectId: number, ref = 'main'): Promise<{ id: number; status: string }> {
    return this.ok('POST', `/projects/${projectId}/pipeline?ref=${encodeURIComponent(ref)}`);
  }

  async pipeline(projectId: number, pipelineId: number): Promise<{ id: number; status: string }> {
    return this.ok('GET', `/projects/${projectId}/pipelines/${pipelineId}`);
  }

  async jobs(projectId: number, pipelineId: number, includeRetried = false): Promise<E2eJob[]> {
    return this.ok(
      'GET',
      `/projects/${projectId}/pipelines/${pipelineId}/jobs${includeRetried ? '?include_retried=true' : ''}`,
    );
  }

  async job(projectId: number, pipelineId: number, name: string): Promise<E2eJob> {
    const found = (await this.jobs(projectId, pipelineId)).find((job) => job.name === name);
    if (!found) throw new Error(`no job ${name}`);
    return found;
  }

  /** A job's log as a reader sees it: the runner's per-line time prefixes (FF_TIMESTAMPS) taken off. */
  async trace(projectId: number, jobId: number): Promise<string> {
    return stripTimestampPrefixes(await this.rawTrace(projectId, jobId));
  }

  /** A job's log as the trace API answers it: the bytes the runner sent, prefixes included. */
  async rawTrace(projectId: number, jobId: number): Promise<string> {
    return (await this.api('GET', `/projects/${projectId}/jobs/${jobId}/trace`)).text;
  }

  /** Waits until the pipeline is in a final state (or `states`). */
  async waitForPipeline(
    projectId: number,
    pipelineId: number,
    states: readonly string[] = ['success', 'failed', 'canceled', 'skipped', 'manual'],
    timeoutMs = 60_000,
  ): Promise<{ id: number; status: string }> {
    return waitFor(
      async () => {
        const pipeline = await this.pipeline(projectId, pipelineId);
        return states.includes(pipeline.status) ? pipeline : undefined;
      },
      `pipeline ${pipelineId} to reach ${states.join('/')}`,
      timeoutMs,
    );
  }

  async waitForJob(
    projectId: number,
    pipelineId: number,
    name: string,
    states: readonly string[],
    timeoutMs = 60_000,
  ) {
    return waitFor(
      async () => {
        const job = (await this.jobs(projectId, pipelineId)).find((candidate) => candidate.name === name);
        return job && states.includes(job.status) ? job : undefined;
      },
      `job ${name} to reach ${states.join('/')}`,
      timeoutMs,
    );
  }
}

/** The job fields the tests read. */
export interface E2eJob {
  id: number;
  name: string;
  stage: string;
  status: string;
  failure_reason?: string;
  exit_code: number | null;
  allow_failure: boolean;
  retried: boolean;
  attempt: number;
}

/** Starts `tessera runner` against `coordinator`. */
export function startRunner(
  coordinator: Coordinator,
  token: string,
  buildsDir: string,
  concurrency = 2,
  extraArgs: readonly string[] = [],
): Child {
  return startTessera(
    [
      'runner',
      '--url',
      coordinator.url,
      '--builds-dir',
      buildsDir,
      '--concurrency',
      String(concurrency),
      ...extraArgs,
    ],
    {
      TESSERA_RUNNER_TOKEN: token,
    },
  );
}

export { waitFor };

/** A builds directory under `root`. */
export function buildsDirIn(root: string): string {
  return join(root, 'builds');
}

/** What {@link useServeAndRunner} starts for one test file. */
export interface ServeAndRunner {
  /** The file's temporary directory (data, builds, and room for its repositories). */
  readonly root: string;
  readonly coordinator: Coordinator;
}

/**
 * A real `tessera serve` (with `serveEnv`) and one `tessera runner` at concurrency 2 (with
 * `runnerArgs`) for the tests of one file, in a fresh temporary directory named after `name`:
 * started before its tests, stopped and removed after them.
 */
export function useServeAndRunner(
  name: string,
  options: { runnerArgs?: readonly string[]; serveEnv?: Record<string, string> } = {},
): ServeAndRunner {
  const root = mkdtempSync(join(tmpdir(), `tessera-e2e-${name}-`));
  const coordinator = new Coordinator(join(root, 'data'));
  let runner: Child | undefined;
  before(async () => {
    await coordinator.start([], options.serveEnv ?? {});
    runner = startRunner(
      coordinator,
      await coordinator.registerRunner(),
      join(root, 'builds'),
      2,
      options.runnerArgs ?? [],
    );
  });
  after(async () => {
    await runner?.stop();
    await coordinator.stop();
    rmSync(root, { recursive: true, force: true });
  });
  return { root, coordinator };
}
