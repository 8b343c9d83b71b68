import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testDialects } from '../store/dialects.js';
import { startTestCoordinator } from './harness.js';

const [sqlite] = testDialects();

/** The log lines about `url`, as `level message` (pino levels: 20 debug, 30 info). */
function linesAbout(logs: string, url: string): string[] {
  return logs
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { level: number; msg: string; req?: { url: string }; reqId?: string })
    .filter((entry) => entry.req?.url === url || entry.msg === 'request completed')
    .map((entry) => `${entry.level} ${entry.msg}`);
}

describe('request logging', () => {
  for (const level of ['info', 'debug'] as const) {
    it(`logs an idle runner long poll (204) at debug level, not info [logLevel ${level}]`, async () => {
      const c = await startTestCoordinator(sqlite!, { logLevel: level });
      const runner = await c.api('POST', '/api/v4/user/runners', { body: { runner_type: 'instance_type' } });
      assert.equal(runner.status, 201);
      const before = c.logs().length;
      const poll = await c.api('POST', '/api/v4/jobs/request', {
        token: null,
        body: { token: runner.body.token },
      });
      assert.equal(poll.status, 204);
      const idle = linesAbout(c.logs().slice(before), '/api/v4/jobs/request');
      assert.deepEqual(idle, level === 'debug' ? ['20 incoming request', '20 request completed'] : []);
      // Other requests, and a refused job request, are logged as before.
      const after = c.logs().length;
      assert.equal(
        (await c.api('POST', '/api/v4/jobs/request', { token: null, body: { token: 'nope' } })).status,
        403,
      );
      assert.deepEqual(linesAbout(c.logs().slice(after), '/api/v4/jobs/request').slice(-1), [
        '30 request completed',
      ]);
      await c.close();
    });
  }
});
