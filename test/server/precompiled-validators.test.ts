import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import AjvCompiler from '@fastify/ajv-compiler';
import Fastify, { type FastifyInstance, type InjectOptions } from 'fastify';
import { loadConfig } from '../../src/config/load.js';
import { buildServer, type ServerDeps } from '../../src/server/build-server.js';
import { installErrorHandler } from '../../src/server/error-handler.js';
import { generatePrecompiledValidators } from '../../src/server/generate-precompiled-validators.js';
import { loadPrecompiledValidators } from '../../src/server/load-precompiled-validators.js';
import {
  type PrecompiledValidators,
  precompiledValidatorFactory,
  type RequestValidator,
} from '../../src/server/precompiled-validator-factory.js';
import { renderValidatorsModule } from '../../src/server/render-validators-module.js';
import { standaloneValidatorFactory } from '../../src/server/standalone-validator-factory.js';
import { openStore } from '../../src/store/open-store.js';
import { memoryKeyring } from '../keys/fixtures/memory-keyring.js';

/** Precompiled validators that remember which names were asked for and which were found. */
function recording(validators: PrecompiledValidators) {
  const found: string[] = [];
  const missing: string[] = [];
  return {
    found,
    missing,
    get(key: string) {
      const validator = validators.get(key);
      (validator ? found : missing).push(key);
      return validator;
    },
  };
}

/** Requests whose answers depend on validation: refused by a schema, coerced, or valid. */
const REQUESTS: InjectOptions[] = [
  { method: 'POST', url: '/api/v4/jobs/request', payload: {} },
  { method: 'POST', url: '/api/v4/jobs/request', payload: { token: '' } },
  { method: 'POST', url: '/api/v4/jobs/request', payload: { token: 'tsrt-wrong', info: 'x' } },
  { method: 'POST', url: '/api/v4/jobs/request', payload: { token: 'tsrt-wrong' } },
  { method: 'PUT', url: '/api/v4/jobs/abc', payload: { token: 't' } },
  { method: 'PUT', url: '/api/v4/jobs/0', payload: { token: 't' } },
  { method: 'PUT', url: '/api/v4/jobs/1', payload: { token: 't', state: 'sleeping' } },
  { method: 'PUT', url: '/api/v4/jobs/1', payload: { token: 't', exit_code: '3', failure_reason: 'No' } },
  { method: 'PUT', url: '/api/v4/jobs/1', payload: { token: 't', exit_code: '3' } },
  { method: 'GET', url: '/api/v4/job/id_token' },
  { method: 'GET', url: '/api/v4/job/id_token?audience=a&lifetime=forever' },
  { method: 'GET', url: '/api/v4/job/id_token?audience=a&lifetime=60' },
  { method: 'POST', url: '/api/v4/users', payload: { username: 'a b', email: 'a@b.c', name: 'A' } },
  { method: 'POST', url: '/api/v4/projects/1/pipeline', payload: { ref: '' } },
  { method: 'GET', url: '/api/v4/projects/1/pipelines?per_page=1000' },
  { method: 'HEAD', url: '/api/v4/projects/1/pipelines/x' },
  { method: 'POST', url: '/oauth/introspect', payload: 'token_type_hint=x', headers: form() },
];

function form() {
  return { 'content-type': 'application/x-www-form-urlencoded' };
}

describe('precompiled request validators of the real server', () => {
  let work: string;
  let generated: PrecompiledValidators;
  const servers: FastifyInstance[] = [];
  const stores: Array<{ close(): Promise<void> }> = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tessera-precompiled-'));
    const file = join(work, 'validators.cjs');
    await writeFile(file, await generatePrecompiledValidators());
    const loaded = loadPrecompiledValidators(file);
    assert.ok(loaded, 'the generated module loads');
    generated = loaded;
  });
  after(async () => {
    for (const app of servers) await app.close();
    for (const store of stores) await store.close();
    await rm(work, { recursive: true, force: true });
  });

  async function server(name: string, deps: Partial<ServerDeps>): Promise<FastifyInstance> {
    const dataDir = join(work, name);
    const config = loadConfig({ dataDir, logLevel: 'silent' }, {});
    const store = await openStore({ database: '', dataDir });
    stores.push(store);
    // No keys: no request here gets as far as signing.
    const { keyring } = await memoryKeyring({ algs: [] });
    const { app } = buildServer(config, { store, keyring, ...deps });
    servers.push(app);
    await app.ready();
    return app;
  }

  it('has one for every route part, and a server using them answers as one that compiles its own', async () => {
    const eager = recording(generated);
    const onFirstUse = recording(generated);
    const compiled = await server('compiled', {});
    const precompiled = await server('precompiled', { precompiledValidators: eager });
    const precompiledOnFirstUse = await server('precompiled-first-use', {
      precompiledValidators: onFirstUse,
      compileSchemasOnFirstUse: true,
    });
    assert.deepEqual(eager.missing, []);
    assert.deepEqual(onFirstUse.missing, []);
    assert.ok(eager.found.some((key) => key.startsWith('POST /api/v4/jobs/request body ')));
    assert.ok(eager.found.some((key) => key.startsWith('PUT /api/v4/jobs/:id params ')));
    for (const request of REQUESTS) {
      const want = await compiled.inject(request);
      for (const app of [precompiled, precompiledOnFirstUse]) {
        const got = await app.inject(request);
        const what = `${request.method} ${request.url} ${JSON.stringify(request.payload)}`;
        assert.equal(got.statusCode, want.statusCode, what);
        assert.equal(got.body, want.body, what);
      }
    }
    const refused = await precompiled.inject(REQUESTS[0] as InjectOptions);
    assert.equal(refused.statusCode, 400);
    assert.deepEqual(refused.json(), {
      error: 'ERR_VALIDATION',
      message: 'body.token is required',
      details: { field: 'body.token' },
    });
    const badParam = await precompiled.inject({
      method: 'PUT',
      url: '/api/v4/jobs/abc',
      payload: { token: 't' },
    });
    assert.equal(badParam.json().details.field, 'params.id');
    // Valid and coerced ("3" to 3): past validation, the runner's token is refused.
    const coerced = await precompiled.inject(REQUESTS[8] as InjectOptions);
    assert.equal(coerced.statusCode, 403);
  });
});

/** A schema's body, limited to `maxLength` characters, and one that coerces its whole value. */
function smallApp(maxLength: number, buildValidator: AjvCompiler.ValidatorFactory): FastifyInstance {
  const app = Fastify({
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: false } },
    schemaController: { compilersFactory: { buildValidator } },
  });
  installErrorHandler(app);
  app.post(
    '/things',
    {
      schema: {
        body: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string', maxLength } },
        },
      },
    },
    async (request) => request.body,
  );
  app.post(
    '/numbers',
    { schema: { body: { type: 'array', items: { type: 'integer' } } } },
    async (request) => request.body,
  );
  return app;
}

describe('precompiled request validators', () => {
  let work: string;
  let generated: PrecompiledValidators;
  let keys: string[];
  const apps: FastifyInstance[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tessera-precompiled-'));
    const codes = new Map<string, string>();
    const generator = smallApp(
      3,
      standaloneValidatorFactory((key, code) => codes.set(key, code)),
    );
    await generator.ready();
    await generator.close();
    keys = [...codes.keys()];
    const file = join(work, 'validators.cjs');
    await writeFile(file, renderValidatorsModule(codes));
    const loaded = loadPrecompiledValidators(file);
    assert.ok(loaded);
    generated = loaded;
  });
  after(async () => {
    for (const app of apps) await app.close();
    await rm(work, { recursive: true, force: true });
  });

  function app(maxLength: number, precompiled: PrecompiledValidators): FastifyInstance {
    const made = smallApp(maxLength, precompiledValidatorFactory(precompiled));
    apps.push(made);
    return made;
  }

  const thing = (name: string): InjectOptions => ({ method: 'POST', url: '/things', payload: { name } });

  it('uses the generated validator of the schema it was generated from', async () => {
    const used = recording(generated);
    const same = app(3, used);
    assert.equal((await same.inject(thing('abc'))).statusCode, 200);
    const refused = await same.inject(thing('abcd'));
    assert.equal(refused.statusCode, 400);
    assert.deepEqual(refused.json(), {
      error: 'ERR_VALIDATION',
      message: 'body.name must NOT have more than 3 characters',
      details: { field: 'body.name' },
    });
    assert.deepEqual(used.missing, []);
    assert.deepEqual(used.found.map((key) => key.split(' ').slice(0, 3).join(' ')).sort(), [
      'POST /numbers body',
      'POST /things body',
    ]);
  });

  it('compiles instead when the schema changed since the validators were generated', async () => {
    const used = recording(generated);
    const changed = app(10, used);
    // The generated validator (at most 3 characters) would refuse it.
    assert.equal((await changed.inject(thing('abcd'))).statusCode, 200);
    assert.equal((await changed.inject(thing('abcdefghijk'))).statusCode, 400);
    assert.deepEqual(
      used.found.map((key) => key.split(' ').slice(0, 3).join(' ')),
      ['POST /numbers body'],
    );
    assert.deepEqual(
      used.missing.map((key) => key.split(' ').slice(0, 3).join(' ')),
      ['POST /things body'],
    );
  });

  it('takes a validator only under its exact name: method, URL, part and the hash of the schema', async () => {
    const thingsKey = keys.find((key) => key.startsWith('POST /things body '));
    assert.ok(thingsKey);
    // Fastify reads a failed validation's errors from the function.
    const refuseAll = Object.assign(() => false, {
      errors: [
        { instancePath: '/name', schemaPath: '#', keyword: 'refused', params: {}, message: 'is refused' },
      ],
    }) as unknown as RequestValidator;
    const underItsName = app(3, new Map([[thingsKey, refuseAll]]));
    assert.equal((await underItsName.inject(thing('abc'))).json().message, 'body.name is refused');
    const otherHash = `${thingsKey.slice(0, thingsKey.lastIndexOf(' '))} ${'A'.repeat(43)}`;
    const underAnotherHash = app(3, new Map([[otherHash, refuseAll]]));
    assert.equal((await underAnotherHash.inject(thing('abc'))).statusCode, 200);
    assert.equal((await underAnotherHash.inject(thing('abcd'))).statusCode, 400);
  });

  it('coerces the whole value as a compiled validator does (5 becomes [5])', async () => {
    const compiled = smallApp(3, AjvCompiler());
    apps.push(compiled);
    const precompiled = app(3, generated);
    for (const payload of [5, '7', [1, '2'], 'x']) {
      const request: InjectOptions = { method: 'POST', url: '/numbers', payload: JSON.stringify(payload) };
      request.headers = { 'content-type': 'application/json' };
      const [want, got] = [await compiled.inject(request), await precompiled.inject(request)];
      assert.equal(got.statusCode, want.statusCode, JSON.stringify(payload));
      assert.equal(got.body, want.body, JSON.stringify(payload));
    }
    assert.equal((await precompiled.inject({ method: 'POST', url: '/numbers', payload: [5] })).body, '[5]');
    const wrapped = await precompiled.inject({
      method: 'POST',
      url: '/numbers',
      payload: '5',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(wrapped.body, '[5]');
  });
});
