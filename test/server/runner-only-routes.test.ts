import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { buildServer } from '../../src/server/build-server.js';
import { openStore } from '../../src/store/open-store.js';
import { memoryKeyring } from '../keys/fixtures/memory-keyring.js';

describe('buildServer with api: false (tessera run)', () => {
  it('serves what runners and jobs call, and not the API v4 for people', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tessera-runner-only-'));
    const store = await openStore({ database: '', dataDir });
    after(async () => {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    });
    const config = loadConfig({ dataDir, logLevel: 'silent', issuer: 'http://127.0.0.1:8080' }, {});
    const { keyring } = await memoryKeyring();
    const { app } = buildServer(config, { store, keyring, api: false });
    after(() => app.close());
    const status = async (method: 'GET' | 'POST', url: string) =>
      (await app.inject({ method, url, ...(method === 'POST' ? { payload: {} } : {}) })).statusCode;

    assert.equal(await status('GET', '/-/health'), 200);
    assert.equal(await status('GET', '/.well-known/openid-configuration'), 200);
    assert.equal(await status('GET', '/oauth/discovery/keys'), 200);
    // Present, and refusing a request without credentials (not 404).
    assert.equal(await status('POST', '/api/v4/jobs/request'), 400);
    assert.equal(await status('GET', '/api/v4/job/id_token?api-version=1&audience=x'), 401);
    for (const url of ['/api/v4/projects', '/api/v4/users', '/api/v4/openapi.json', '/metrics']) {
      assert.equal(await status('GET', url), 404, url);
    }
  });
});
