import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import SqliteDatabase from 'better-sqlite3';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { makeRepository } from '../coordinator/git-fixture.js';
import { testDialects } from '../store/dialects.js';

const BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url));
const [sqlite] = testDialects();

/** Starts `tessera serve` and answers the child and its URL once it listens. */
async function serve(
  dataDir: string,
  port: number,
  adminToken: string,
): Promise<{ child: ChildProcess; url: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TESSERA_LOG_LEVEL: 'warn',
    TESSERA_BOOTSTRAP_ADMIN_TOKEN: adminToken,
    TESSERA_LEASE_TIMEOUT: '5',
    TESSERA_JOB_REQUEST_WAIT: '0',
  };
  delete env.TESSERA_KEY_ENCRYPTION_KEY;
  delete env.TESSERA_DATABASE_URL;
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', String(port)],
    {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const until = Date.now() + 30_000;
  for (;;) {
    const match = /listening on (\S+),/.exec(stderr);
    if (match) return { child, url: match[1]! };
    if (child.exitCode !== null || Date.now() > until) throw new Error(`serve did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('coordinator crash', () => {
  it('after kill -9 keeps keys, pipelines and jobs; old tokens still verify; the orphaned job’s lease expires', async () => {
    const { dataDir } = await sqlite!.freshLocation();
    const repo = await makeRepository({
      '.gitlab-ci.yml': 'job:\n  script: [x]\n  id_tokens:\n    T:\n      aud: rp\n',
    });
    const admin = `admin-${randomBytes(12).toString('hex')}`;
    let { child, url } = await serve(dataDir, 0, admin);
    const port = Number(new URL(url).port);
    const api = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${url}/api/v4${path}`, {
        method,
        headers: { 'private-token': admin, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return {
        status: response.status,
        body: (await response.json()) as {
          id: number;
          token: string;
          status: string;
          failure_reason?: string;
        },
      };
    };
    try {
      const group = await api('POST', '/groups', { name: 'g', path: 'g' });
      const project = await api('POST', '/projects', {
        name: 'p',
        namespace_id: group.body.id,
        repository_url: repo.path,
      });
      const pipeline = await api('POST', `/projects/${project.body.id}/pipeline?ref=main`);
      const runner = await api('POST', '/user/runners', { runner_type: 'instance_type' });
      const picked = await fetch(`${url}/api/v4/jobs/request`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: runner.body.token }),
      });
      const job = (await picked.json()) as { id: number; variables: Array<{ key: string; value: string }> };
      const token = job.variables.find((v) => v.key === 'T')!.value;
      const issuer = url.replace('127.0.0.1', 'localhost');

      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('close', resolve));
      ({ child, url } = await serve(dataDir, port, admin));

      const jwks = (await (await fetch(`${url}/oauth/discovery/keys`)).json()) as JSONWebKeySet;
      const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer, audience: 'rp' });
      assert.equal(payload.job_id, String(job.id));
      assert.equal(
        (await api('GET', `/projects/${project.body.id}/pipelines/${pipeline.body.id}`)).body.status,
        'running',
      );
      // Nobody reports for the job any more: the sweeper fails it once its lease (5 s) is over.
      const until = Date.now() + 30_000;
      let status = '';
      while (Date.now() < until) {
        const current = await api('GET', `/projects/${project.body.id}/jobs/${job.id}`);
        status = current.body.status;
        if (status === 'failed') {
          assert.equal(current.body.failure_reason, 'runner_system_failure');
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.equal(status, 'failed');
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) =>
        child.exitCode === null ? child.once('close', resolve) : resolve(null),
      );
    }
  });

  it('after kill -9 in the middle of on-demand minting, every token a client received has its audit row', async () => {
    const { dataDir } = await sqlite!.freshLocation();
    const repo = await makeRepository({ '.gitlab-ci.yml': 'job:\n  script: [x]\n' });
    const admin = `admin-${randomBytes(12).toString('hex')}`;
    let { child, url } = await serve(dataDir, 0, admin);
    const port = Number(new URL(url).port);
    const api = async (method: string, path: string, body?: unknown) =>
      (await (
        await fetch(`${url}/api/v4${path}`, {
          method,
          headers: { 'private-token': admin, 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        })
      ).json()) as { id: number; token: string };
    try {
      const group = await api('POST', '/groups', { name: 'g', path: 'g' });
      const project = await api('POST', '/projects', {
        name: 'p',
        namespace_id: group.id,
        repository_url: repo.path,
      });
      await api('POST', `/projects/${project.id}/pipeline?ref=main`);
      const runner = await api('POST', '/user/runners', { runner_type: 'instance_type' });
      const job = (await (
        await fetch(`${url}/api/v4/jobs/request`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ token: runner.token }),
        })
      ).json()) as { variables: Array<{ key: string; value: string }> };
      const variable = (key: string) => job.variables.find((entry) => entry.key === key)!.value;
      const requestUrl = `${variable('TESSERA_ID_TOKEN_REQUEST_URL')}&audience=rp`;
      const requestToken = variable('TESSERA_ID_TOKEN_REQUEST_TOKEN');

      // 16 clients mint one token after another. Once 20 tokens have arrived, another process
      // holds the database's write lock, so audit rows can no longer be stored, and 300 ms later the
      // coordinator is killed: a token answered before its row was stored would be lost with it.
      const received: string[] = [];
      let killed = false;
      let lock: SqliteDatabase.Database | undefined;
      const client = async () => {
        while (!killed) {
          try {
            const response = await fetch(requestUrl, {
              headers: { authorization: `Bearer ${requestToken}` },
            });
            if (response.status !== 200) throw new Error(`status ${response.status}`);
            received.push(((await response.json()) as { value: string }).value);
          } catch (error) {
            if (killed) return;
            throw error;
          }
          if (received.length >= 20 && !lock) {
            lock = new SqliteDatabase(join(dataDir, 'tessera.db'));
            lock.exec('BEGIN IMMEDIATE');
            setTimeout(() => {
              killed = true;
              child.kill('SIGKILL');
            }, 300);
          }
        }
      };
      await Promise.all(Array.from({ length: 16 }, client));
      // Killed by a signal, a child keeps a null exitCode: its signalCode says it has ended.
      await new Promise((resolve) =>
        child.exitCode === null && child.signalCode === null ? child.once('close', resolve) : resolve(null),
      );
      lock?.exec('ROLLBACK');
      lock?.close();
      ({ child, url } = await serve(dataDir, port, admin));

      const audit = (await (
        await fetch(`${url}/api/v4/projects/${project.id}/id_tokens?per_page=1000`, {
          headers: { 'private-token': admin },
        })
      ).json()) as Array<{ jti: string }>;
      const audited = new Set(audit.map((row) => row.jti));
      const jtiOf = (token: string) =>
        (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { jti: string }).jti;
      assert.ok(received.length >= 20);
      const missing = received.map(jtiOf).filter((jti) => !audited.has(jti));
      assert.deepEqual(missing, [], 'no token a client received is missing from the audit');
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) =>
        child.exitCode === null ? child.once('close', resolve) : resolve(null),
      );
    }
  });
});
