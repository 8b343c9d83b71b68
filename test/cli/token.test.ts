import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type LoopbackIssuer, startLoopbackIssuer } from '../oidc/fixtures/loopback-issuer.js';
import { jobContext } from '../token/fixtures/job-context.js';

const BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
const AUDIENCE = 'https://vault.example.com';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/tessera.js …` as a real child process, feeding `input` on stdin. */
function tessera(args: string[], input = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    // The CLI stops reading a huge input early; the broken pipe that follows is expected.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function assertRefused(run: Run, code: string, secret?: string): void {
  assert.equal(run.code, 1, run.stderr);
  assert.equal(run.stdout, '');
  assert.match(run.stderr, new RegExp(`^${code}: [^\\n]+\\n$`), 'exactly one line: CODE: reason');
  assert.ok(!/\n\s+at /.test(run.stderr), 'no stack trace');
  if (secret) assert.ok(!run.stderr.includes(secret), 'the token is not echoed');
}

describe('tessera token verify|decode (child process)', () => {
  let loopback: LoopbackIssuer;
  let token: string;

  before(async () => {
    loopback = await startLoopbackIssuer();
    token = (
      await loopback.tokens.issue({
        context: jobContext(),
        audience: AUDIENCE,
        lifetime: 600,
        alg: 'ES256',
        issuedVia: 'pre-issued',
      })
    ).token;
  });
  after(() => loopback.close());

  const verifyArgs = (...extra: string[]) => [
    'token',
    'verify',
    '--issuer',
    loopback.issuer,
    '--audience',
    AUDIENCE,
    ...extra,
  ];

  it('prints the verified claims of a valid token read from stdin and exits 0', async () => {
    const run = await tessera(verifyArgs(), `${token}\n`);
    assert.equal(run.code, 0, run.stderr);
    const claims = JSON.parse(run.stdout);
    assert.equal(claims.iss, loopback.issuer);
    assert.equal(claims.project_path, 'acme/platform/api');
    assert.equal(run.stderr, '');
  });

  it('applies --bound-claim with --bound-claims-type glob, from --token', async () => {
    const ok = await tessera(
      verifyArgs(
        '--bound-claim',
        'project_path=acme/*',
        '--bound-claim',
        'ref_protected=true',
        '--bound-claims-type',
        'glob',
        '--token',
        token,
      ),
    );
    assert.equal(ok.code, 0, ok.stderr);
    const refused = await tessera(
      verifyArgs('--bound-claim', 'ref=release', '--bound-claim', 'ref=dev', '--token', token),
    );
    assertRefused(refused, 'ERR_VERIFY_BOUND_CLAIM', token);
  });

  it('refuses a forged token (payload swapped under a valid signature)', async () => {
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString());
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, ref_protected: 'true', ref: 'evil' })).toString('base64url')}.${signature}`;
    assertRefused(await tessera(verifyArgs(), forged), 'ERR_VERIFY_SIGNATURE', forged);
  });

  it('refuses a token for another audience', async () => {
    const run = await tessera([
      'token',
      'verify',
      '--issuer',
      loopback.issuer,
      '--audience',
      'https://other.example.com',
      '--token',
      token,
    ]);
    assertRefused(run, 'ERR_VERIFY_AUDIENCE', token);
  });

  it('refuses malformed input: garbage, binary, empty', async () => {
    assertRefused(await tessera(verifyArgs(), 'not a token'), 'ERR_VERIFY_MALFORMED');
    assertRefused(await tessera(verifyArgs(), '\u0000\u00ff\u{1F600}.\n.\t'), 'ERR_VERIFY_MALFORMED');
    assertRefused(await tessera(verifyArgs(), ''), 'ERR_VERIFY_MALFORMED');
  });

  it('refuses megabyte-sized input on stdin and a 100 KB --token', async () => {
    assertRefused(
      await tessera(verifyArgs(), `${'A'.repeat(1024 * 1024)}.${'B'.repeat(1024 * 1024)}.C`),
      'ERR_VERIFY_MALFORMED',
    );
    assertRefused(
      await tessera(verifyArgs('--token', `${token}${'x'.repeat(100 * 1024)}`)),
      'ERR_VERIFY_MALFORMED',
    );
  });

  it('answers ERR_VERIFY_DISCOVERY for an issuer that is not there', async () => {
    const server = createServer((_request, response) => response.writeHead(404).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const run = await tessera([
        'token',
        'verify',
        '--issuer',
        `http://127.0.0.1:${port}`,
        '--audience',
        AUDIENCE,
        '--token',
        token,
      ]);
      assertRefused(run, 'ERR_VERIFY_DISCOVERY', token);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('answers ERR_VERIFY_OPTIONS for a bad --leeway or --bound-claim', async () => {
    assertRefused(await tessera(verifyArgs('--leeway', 'soon', '--token', token)), 'ERR_VERIFY_OPTIONS');
    assertRefused(
      await tessera(verifyArgs('--bound-claim', 'novalue', '--token', token)),
      'ERR_VERIFY_OPTIONS',
    );
  });

  it('decode prints header and claims marked unverified; malformed input exits 1', async () => {
    const run = await tessera(['token', 'decode'], token);
    assert.equal(run.code, 0, run.stderr);
    const output = JSON.parse(run.stdout);
    assert.equal(output.verified, false);
    assert.deepEqual(Object.keys(output.header), ['alg', 'kid', 'typ']);
    assert.equal(output.claims.sub, 'project_path:acme/platform/api:ref_type:branch:ref:main');
    assertRefused(await tessera(['token', 'decode', '--token', 'x.y']), 'ERR_VERIFY_MALFORMED');
  });
});
