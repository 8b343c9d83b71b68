import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { compileOnFirstUse } from '../../src/server/compile-on-first-use.js';

function buildApp(lazy: boolean) {
  const app = Fastify({
    ajv: {
      customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: false },
      plugins: lazy ? [compileOnFirstUse] : [],
    },
  });
  app.post<{ Body: { n: number; tags?: string[] } }>(
    '/things',
    {
      schema: {
        body: {
          type: 'object',
          required: ['n'],
          properties: {
            n: { type: 'integer', minimum: 1 },
            tags: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
    async (request) => request.body,
  );
  return app;
}

describe('compileOnFirstUse', () => {
  it('validates and coerces exactly as compiling at start-up does, on the first call and after', async () => {
    const eager = buildApp(false);
    const lazy = buildApp(true);
    try {
      const bodies = [
        { n: '3', tags: 'a' },
        { n: 0 },
        {},
        { n: 'x' },
        { n: 2, tags: ['b', 'c'] },
        { n: '3' },
      ];
      for (const payload of bodies) {
        const [want, got] = await Promise.all(
          [eager, lazy].map((app) => app.inject({ method: 'POST', url: '/things', payload })),
        );
        assert.ok(want && got);
        assert.equal(got.statusCode, want.statusCode, JSON.stringify(payload));
        assert.deepEqual(got.json(), want.json(), JSON.stringify(payload));
      }
      const refused = await lazy.inject({ method: 'POST', url: '/things', payload: { n: 0 } });
      assert.equal(refused.statusCode, 400);
      assert.match(refused.json().message, /body\/n must be >= 1/);
      const coerced = await lazy.inject({ method: 'POST', url: '/things', payload: { n: '3', tags: 'a' } });
      assert.deepEqual(coerced.json(), { n: 3, tags: ['a'] });
    } finally {
      await eager.close();
      await lazy.close();
    }
  });
});
