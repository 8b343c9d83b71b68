/**
 * A loopback stand-in for the coordinator's runner API, for testing the agent's protocol handling
 * (retries, restarts, cancel, trace offsets) before and apart from the real coordinator, which the
 * end-to-end tests in test/e2e use. It speaks the documented shapes: `POST /api/v4/runners/verify`
 * (200, or 403 for another token), `POST /api/v4/jobs/request` (201 job or 204 after a short wait),
 * `PUT /api/v4/jobs/:id`, `PATCH /api/v4/jobs/:id/trace`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JobPayload } from '../../src/runner/job-payload.js';

export interface StandInJob {
  readonly payload: JobPayload;
  state: 'pending' | 'running' | 'success' | 'failed' | 'canceled';
  trace: Buffer;
  updates: Record<string, unknown>[];
  final?: Record<string, unknown>;
}

export class CoordinatorStandIn {
  readonly jobs = new Map<number, StandInJob>();
  readonly runnerToken: string;
  /** Answer every request with this status while set (simulates a broken coordinator). */
  failWith: number | undefined;
  requests = 0;
  #server: Server | undefined;
  #port = 0;
  #waiters: (() => void)[] = [];

  constructor(runnerToken: string) {
    this.runnerToken = runnerToken;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  enqueue(payload: JobPayload): StandInJob {
    const job: StandInJob = { payload, state: 'pending', trace: Buffer.alloc(0), updates: [] };
    this.jobs.set(payload.id, job);
    for (const wake of this.#waiters.splice(0)) wake();
    return job;
  }

  cancel(id: number): void {
    const job = this.jobs.get(id);
    if (job) job.state = 'canceled';
  }

  async waitFor(predicate: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async listen(): Promise<void> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on(
        'end',
        () =>
          void this.#handle(
            request.method ?? '',
            request.url ?? '',
            request.headers,
            Buffer.concat(chunks),
            response,
          ),
      );
    });
    await new Promise<void>((resolve) => server.listen(this.#port, '127.0.0.1', resolve));
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const wake of this.#waiters.splice(0)) wake();
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #handle(
    method: string,
    url: string,
    headers: Record<string, string | string[] | undefined>,
    body: Buffer,
    response: import('node:http').ServerResponse,
  ): Promise<void> {
    this.requests += 1;
    const json = (status: number, value: unknown, extra: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'application/json', ...extra });
      response.end(value === undefined ? undefined : JSON.stringify(value));
    };
    if (this.failWith !== undefined) return json(this.failWith, { message: 'broken' });
    if (method === 'POST' && url === '/api/v4/runners/verify') {
      const { token } = JSON.parse(body.toString()) as { token?: string };
      if (token !== this.runnerToken) return json(403, { message: '403 Forbidden' });
      return json(200, { id: 1, token, token_expires_at: null });
    }
    if (method === 'POST' && url === '/api/v4/jobs/request') {
      const { token } = JSON.parse(body.toString()) as { token?: string };
      if (token !== this.runnerToken) return json(403, { message: '403 Forbidden' });
      const deadline = Date.now() + 300;
      // A runner that hung up must not be handed a job (it would be lost).
      while (Date.now() < deadline && this.#server && !response.socket?.destroyed) {
        const pending = [...this.jobs.values()].find((job) => job.state === 'pending');
        if (pending) {
          pending.state = 'running';
          // Handed to a runner that hung up meanwhile: queue it again (the real coordinator's
          // lease expiry does the same, later).
          response.once('close', () => {
            if (!response.writableFinished && pending.state === 'running') pending.state = 'pending';
          });
          return json(201, pending.payload);
        }
        await new Promise<void>((resolve) => {
          this.#waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      response.writeHead(204);
      response.end();
      return;
    }
    const update = /^\/api\/v4\/jobs\/(\d+)$/.exec(url);
    if (method === 'PUT' && update) {
      const job = this.jobs.get(Number(update[1]));
      const parsed = JSON.parse(body.toString()) as Record<string, unknown>;
      if (!job || parsed.token !== job.payload.token) return json(403, { message: '403 Forbidden' });
      job.updates.push(parsed);
      // As the coordinator: a job that is over takes no state and no log part.
      if (job.state !== 'running') return json(200, { status: job.state }, { 'job-status': job.state });
      // A final state may carry the log's last part, from byte trace_offset (as the coordinator takes it).
      const extra: Record<string, string> = {};
      if (parsed.state !== 'running' && typeof parsed.trace === 'string') {
        if (parsed.trace_offset !== job.trace.length) {
          return json(416, { message: 'range not satisfiable' }, { range: `0-${job.trace.length}` });
        }
        job.trace = Buffer.concat([job.trace, Buffer.from(parsed.trace, 'utf8')]);
        extra.range = `0-${job.trace.length}`;
      }
      if (parsed.state !== 'running') {
        job.final = parsed;
        job.state = parsed.state as StandInJob['state'];
      }
      return json(200, { status: job.state }, { 'job-status': job.state, ...extra });
    }
    const trace = /^\/api\/v4\/jobs\/(\d+)\/trace$/.exec(url);
    if (method === 'PATCH' && trace) {
      const job = this.jobs.get(Number(trace[1]));
      if (!job || headers['job-token'] !== job.payload.token) return json(403, { message: '403 Forbidden' });
      // As GitLab and the coordinator: a finished job's token appends nothing more.
      if (job.state !== 'running') {
        return json(
          403,
          { message: '403 Forbidden - Job is not processing on runner' },
          { 'job-status': job.state },
        );
      }
      const start = Number(String(headers['content-range'] ?? '').split('-')[0]);
      if (start !== job.trace.length) {
        return json(416, { message: 'range not satisfiable' }, { range: `0-${job.trace.length}` });
      }
      job.trace = Buffer.concat([job.trace, body]);
      return json(202, { status: job.state }, { 'job-status': job.state });
    }
    return json(404, { message: 'not found' });
  }
}
