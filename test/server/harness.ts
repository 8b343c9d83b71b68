import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { after } from 'node:test';
import { type RunningServer, startServer } from '../../src/cli/serve.js';
import type { ConfigInput } from '../../src/config/load.js';
import { loadConfig } from '../../src/config/load.js';
import type { TestDialect } from '../store/dialects.js';

/** An HTTP answer, parsed. */
// biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field by the assertions
export interface ApiAnswer<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** A coordinator on 127.0.0.1:0 with a known admin token, and a small client for it. */
export interface TestCoordinator {
  server: RunningServer;
  url: string;
  adminToken: string;
  /** Where its store lives (for a second node on the same store). */
  location: { database: string; dataDir: string; pgSchema?: string };
  /** Everything the server logged so far. */
  logs(): string;
  // biome-ignore lint/suspicious/noExplicitAny: as ApiAnswer
  api<T = any>(
    method: string,
    path: string,
    options?: {
      token?: string | null;
      body?: unknown;
      headers?: Record<string, string>;
      form?: Record<string, string>;
    },
  ): Promise<ApiAnswer<T>>;
  close(): Promise<void>;
}

/**
 * Starts a real coordinator (`startServer`, real HTTP) on a fresh store of `dialect`, with a
 * bootstrap admin token, short long-polls (1 s) and the given setting overrides. Closed when the
 * test file ends (or earlier with `close`).
 */
export async function startTestCoordinator(
  dialect: TestDialect,
  overrides: ConfigInput = {},
  options: {
    clock?: () => number;
    env?: Record<string, string>;
    /** Share another coordinator's store (a second node): its location and admin token. */
    sameStoreAs?: TestCoordinator;
    /** How often the periodic sweeps run (leases, delayed jobs, bridges); default a minute. */
    sweepInterval?: number;
  } = {},
): Promise<TestCoordinator> {
  const location = options.sameStoreAs?.location ?? (await dialect.freshLocation());
  const adminToken = options.sameStoreAs?.adminToken ?? `admin-${randomBytes(16).toString('hex')}`;
  const logStream = new PassThrough();
  let logText = '';
  logStream.on('data', (chunk: Buffer) => {
    logText += chunk.toString('utf8');
  });
  const config = loadConfig(
    {
      host: '127.0.0.1',
      port: 0,
      dataDir: location.dataDir,
      database: location.database,
      jobRequestWait: 1,
      logLevel: 'info',
      ...overrides,
    },
    {},
  );
  const server = await startServer(config, {
    env: { TESSERA_BOOTSTRAP_ADMIN_TOKEN: adminToken, ...options.env },
    logStream,
    notice: () => {},
    ...(location.pgSchema ? { pgSchema: location.pgSchema } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    sweepInterval: options.sweepInterval ?? 60_000,
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await server.close();
  };
  after(close);
  return {
    server,
    url: server.url,
    adminToken,
    location,
    logs: () => logText,
    close,
    async api(method, path, { token = adminToken, body, headers = {}, form } = {}) {
      const init: RequestInit & { headers: Record<string, string> } = { method, headers: { ...headers } };
      if (token !== null) init.headers['private-token'] ??= token;
      if (form !== undefined) {
        init.headers['content-type'] = 'application/x-www-form-urlencoded';
        init.body = new URLSearchParams(form).toString();
      } else if (body !== undefined) {
        init.headers['content-type'] ??= 'application/json';
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
      }
      const response = await fetch(`${server.url}${path}`, init);
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        // not JSON (a job trace): keep the text
      }
      return { status: response.status, headers: response.headers, body: parsed as never, text };
    },
  };
}
