import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HttpRequestError, sendHttpRequest } from '../../src/runner/send-http-request.js';

describe('sendHttpRequest', () => {
  let server: Server;
  let base: string;

  before(async () => {
    server = createServer((request, response) => {
      if (request.url?.startsWith('/slow')) return; // never answers
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        response.setHeader('job-status', 'running');
        response.setHeader('content-type', 'application/json');
        response.statusCode = request.method === 'POST' ? 201 : 200;
        response.end(JSON.stringify({ method: request.method, body, auth: request.headers.authorization }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends method, headers and body and answers status, headers and the whole body', async () => {
    const answer = await sendHttpRequest(`${base}/x`, {
      method: 'POST',
      headers: { authorization: 'Bearer abc', 'content-type': 'text/plain' },
      body: Buffer.from('héllo'),
      timeoutMs: 5000,
    });
    assert.equal(answer.status, 201);
    assert.equal(answer.headers['job-status'], 'running');
    assert.deepEqual(JSON.parse(answer.body), { method: 'POST', body: 'héllo', auth: 'Bearer abc' });
  });

  it('reuses its keep-alive connection for consecutive requests', async () => {
    const remotePorts = new Set<number>();
    const onConnection = (socket: { remotePort?: number }) => remotePorts.add(socket.remotePort ?? 0);
    server.on('connection', onConnection);
    try {
      for (let i = 0; i < 3; i++) await sendHttpRequest(`${base}/again`, { timeoutMs: 5000 });
    } finally {
      server.off('connection', onConnection);
    }
    assert.ok(remotePorts.size <= 1, `${remotePorts.size} connections for 3 sequential requests`);
  });

  it('gives up after the timeout with ETIMEDOUT, naming the origin and never the path', async () => {
    await assert.rejects(
      sendHttpRequest(`${base}/slow?token=secret-value`, { timeoutMs: 50 }),
      (error: unknown) =>
        error instanceof HttpRequestError &&
        error.code === 'ETIMEDOUT' &&
        error.message.includes(base) &&
        !error.message.includes('secret-value') &&
        !error.message.includes('/slow'),
    );
  });

  it('gives up when the signal aborts, also when it aborted before the call', async () => {
    const controller = new AbortController();
    const pending = sendHttpRequest(`${base}/slow`, { timeoutMs: 5000, signal: controller.signal });
    controller.abort();
    await assert.rejects(
      pending,
      (error: unknown) => error instanceof HttpRequestError && error.code === 'ABORT_ERR',
    );
    await assert.rejects(
      sendHttpRequest(`${base}/x`, { timeoutMs: 5000, signal: AbortSignal.abort() }),
      (error: unknown) => error instanceof HttpRequestError && error.code === 'ABORT_ERR',
    );
  });

  it('reports a refused connection by its system code', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(
      sendHttpRequest(`http://127.0.0.1:${port}/`, { timeoutMs: 5000 }),
      (error: unknown) => error instanceof HttpRequestError && error.code === 'ECONNREFUSED',
    );
  });
});
