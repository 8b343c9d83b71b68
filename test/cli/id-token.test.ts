import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
const REQUEST_TOKEN = 'request-token-abcdef-0123456789';
let server: Server;
let base = '';
const seen: URLSearchParams[] = [];

// A loopback stand-in for the coordinator's on-demand endpoint; the end-to-end tests in test/e2e
// run `tessera id-token` inside real jobs against the real coordinator.
before(async () => {
  server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://x');
    seen.push(url.searchParams);
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (request.headers.authorization !== `Bearer ${REQUEST_TOKEN}`) {
      return json(401, { error: 'ERR_VERIFY_MALFORMED', message: 'bad request token' });
    }
    if (url.searchParams.get('audience') === 'forbidden') {
      return json(403, {
        error: 'ERR_TOKEN_AUDIENCE_INVALID',
        message: 'audience forbidden is not allowed for this project',
      });
    }
    return json(200, { value: `header.payload-for-${url.searchParams.get('audience')}.signature` });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v4/id_token?api-version=1`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('tessera id-token', () => {
  it('prints the token for the audience, passing lifetime and alg', async () => {
    const result = await cli(
      ['id-token', '--audience', 'https://svc.test', '--lifetime', '60', '--alg', 'ES256'],
      {
        TESSERA_ID_TOKEN_REQUEST_URL: base,
        TESSERA_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
      },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'header.payload-for-https://svc.test.signature\n');
    const params = seen.at(-1);
    assert.equal(params?.get('api-version'), '1');
    assert.equal(params?.get('lifetime'), '60');
    assert.equal(params?.get('alg'), 'ES256');
  });

  it('also works with only the ACTIONS_ID_TOKEN_REQUEST_* twins', async () => {
    const result = await cli(['id-token', '--audience', 'a'], {
      ACTIONS_ID_TOKEN_REQUEST_URL: base,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'header.payload-for-a.signature\n');
  });

  it('fails with one line CODE: message, never showing the request token', async () => {
    const refused = await cli(['id-token', '--audience', 'forbidden'], {
      TESSERA_ID_TOKEN_REQUEST_URL: base,
      TESSERA_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
    });
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, '');
    assert.equal(
      refused.stderr,
      'ERR_TOKEN_AUDIENCE_INVALID: audience forbidden is not allowed for this project\n',
    );

    const wrongToken = await cli(['id-token', '--audience', 'x'], {
      TESSERA_ID_TOKEN_REQUEST_URL: base,
      TESSERA_ID_TOKEN_REQUEST_TOKEN: 'wrong-request-token-xyz',
    });
    assert.equal(wrongToken.code, 1);
    assert.match(wrongToken.stderr, /^ERR_VERIFY_MALFORMED: [^\n]*\n$/);
    assert.ok(!wrongToken.stderr.includes('wrong-request-token-xyz'));

    const outside = await cli(['id-token', '--audience', 'x'], {});
    assert.equal(outside.code, 1);
    assert.match(outside.stderr, /^ERR_RUNNER_ID_TOKEN_NOT_IN_JOB: [^\n]*\n$/);

    const down = await cli(['id-token', '--audience', 'x'], {
      TESSERA_ID_TOKEN_REQUEST_URL: 'http://127.0.0.1:1/x?api-version=1',
      TESSERA_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
    });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /^ERR_RUNNER_COORDINATOR_UNREACHABLE: [^\n]*\n$/);
    assert.ok(!down.stderr.includes(REQUEST_TOKEN));
  });
});
