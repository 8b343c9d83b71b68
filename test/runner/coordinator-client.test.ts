import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CoordinatorClient, TransientCoordinatorError } from '../../src/runner/coordinator-client.js';

describe('CoordinatorClient', () => {
  let server: Server;
  let base: string;
  const seen: string[] = [];

  before(async () => {
    server = createServer((request, response) => {
      seen.push(`${request.method} ${request.url}`);
      request.resume();
      request.on('end', () => {
        if (request.url === '/moved/api/v4/jobs/request') {
          response.writeHead(301, { location: 'https://elsewhere.example/api/v4/jobs/request?token=leak' });
          response.end();
        } else if (request.url === '/api/v4/jobs/request') {
          response.writeHead(201, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ id: 7, token: 'job-token' }));
        } else {
          response.writeHead(204);
          response.end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('answers the job the coordinator hands out, and nothing on 204', async () => {
    const client = new CoordinatorClient({ url: base, token: 'runner-token' });
    assert.deepEqual(await client.requestJob(), { id: 7, token: 'job-token' });
    const idle = new CoordinatorClient({ url: `${base}/idle`, token: 'runner-token' });
    assert.equal(await idle.requestJob(), undefined);
  });

  it('does not follow a redirect, and says where it pointed without its path or the token', async () => {
    seen.length = 0;
    const client = new CoordinatorClient({ url: `${base}/moved`, token: 'runner-token' });
    await assert.rejects(client.requestJob(), (error: unknown) => {
      assert.ok(error instanceof TransientCoordinatorError);
      assert.match(error.message, /HTTP 301 \(a redirect to https:\/\/elsewhere\.example\)/);
      assert.match(error.message, /does not follow redirects/);
      assert.doesNotMatch(error.message, /leak|runner-token|jobs\/request/);
      return true;
    });
    assert.deepEqual(seen, ['POST /moved/api/v4/jobs/request'], 'one request, to the configured URL only');
  });

  it('reports an unreachable coordinator as transient, by its system error code', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const client = new CoordinatorClient({ url: `http://127.0.0.1:${port}`, token: 'runner-token' });
    await assert.rejects(client.requestJob(), (error: unknown) => {
      assert.ok(error instanceof TransientCoordinatorError);
      assert.match(error.message, /unreachable \(ECONNREFUSED\)/);
      assert.doesNotMatch(error.message, /runner-token/);
      return true;
    });
  });
});
