import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { startTestCoordinator } from '../server/harness.js';
import { testDialects } from '../store/dialects.js';
import { makeRepository } from './git-fixture.js';
import { setUpProject } from './project-fixture.js';
import { registerRunner, requestJob, updateJob, variable } from './runner-client.js';

/**
 * Counts the SQL statements this process sends to either engine while `counting` is on, at the
 * drivers themselves (pg's `Client.query`, better-sqlite3's statement runs and `exec`), so no
 * statement of the coordinator's escapes the count.
 */
const counter = { counting: false, statements: [] as string[] };
const pgQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  if (counter.counting) {
    const config = args[0] as string | { text?: string };
    counter.statements.push(typeof config === 'string' ? config : String(config.text));
  }
  return (pgQuery as (...rest: unknown[]) => unknown).apply(this, args);
} as typeof pg.Client.prototype.query;
const probe = new SqliteDatabase(':memory:');
const statementPrototype = Object.getPrototypeOf(probe.prepare('select 1')) as Record<
  string,
  (...args: unknown[]) => unknown
>;
probe.close();
const originals = new Map<string, (...args: unknown[]) => unknown>();
for (const name of ['all', 'get', 'run', 'iterate']) {
  const original = statementPrototype[name]!;
  originals.set(name, original);
  statementPrototype[name] = function (this: { source: string }, ...args: unknown[]) {
    if (counter.counting) counter.statements.push(this.source);
    return original.apply(this, args);
  };
}
const sqliteExec = SqliteDatabase.prototype.exec;
SqliteDatabase.prototype.exec = function (this: SqliteDatabase.Database, source: string) {
  if (counter.counting) counter.statements.push(source);
  return sqliteExec.call(this, source);
};
after(() => {
  pg.Client.prototype.query = pgQuery;
  for (const [name, original] of originals) statementPrototype[name] = original;
  SqliteDatabase.prototype.exec = sqliteExec;
});

/**
 * A dispatch (`POST /jobs/request` that hands out a job with one ID token, then `PUT /jobs/:id`
 * with `success`) of a job in the middle of a pipeline ran 33 statements on SQLite and 34 on
 * PostgreSQL before the dispatch work of issue 16 (the runner's token looked up on every request,
 * the claim read the job and its resource group twice, its pipeline three times, the user and
 * the group twice or three times and all the pipeline's jobs for its artifact dependencies;
 * finishing it read the job again and all the pipeline's jobs); 21 on both after that work's first cuts. Now 19 on SQLite (the final
 * report's job-token check is its update) and 6 on PostgreSQL (the claim is one statement that
 * also reads the pipeline, project, user, group lineage, path history, role and variables; the
 * final report ends the job and locks its pipeline in one statement, then counts its jobs), not
 * counting the look for due delayed jobs of a request that is the node's first in a second. A
 * job of the pipeline's first stage reads no artifact dependencies (its plan says it has none).
 */
const MAX_STATEMENTS_PER_DISPATCH = { sqlite: 19, postgres: 6 };

for (const dialect of testDialects()) {
  describe(`dispatch statements [${dialect.name}]`, { skip: dialect.skip }, () => {
    const bound = MAX_STATEMENTS_PER_DISPATCH[dialect.name];
    it(`hands out a mid-pipeline job with an ID token and finishes it in at most ${bound} statements`, async () => {
      const jobs = ['one', 'two', 'three']
        .map(
          (name) =>
            `${name}:\n  script: ['true']\n  id_tokens:\n    ID_TOKEN:\n      aud: https://x.example\n`,
        )
        .join('');
      const repo = await makeRepository({ '.gitlab-ci.yml': jobs });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const runnerToken = await registerRunner(c);
      await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, { token: p.developer.token });
      // The pipeline's first job starts it (one more read of its jobs): dispatch it uncounted.
      const first = await requestJob(c, runnerToken);
      assert.ok(first);
      assert.equal((await updateJob(c, first, { state: 'success' })).status, 200);

      counter.statements = [];
      counter.counting = true;
      const second = await requestJob(c, runnerToken);
      assert.ok(second);
      assert.equal((await updateJob(c, second, { state: 'success' })).status, 200);
      counter.counting = false;
      // The look for due delayed jobs a node's first request in a second makes (none are due here)
      // depends on the machine's speed, not on the dispatch: left out of the count.
      const counted = counter.statements.filter(
        (statement) => !/^select "id", "pipeline_id" from "jobs" where "status" = /.test(statement),
      ).length;

      assert.match(variable(second, 'ID_TOKEN') ?? '', /^ey/, 'the ID token was minted');
      assert.ok(
        counted <= bound,
        `${counted} statements for one dispatch:\n${counter.statements.join('\n')}`,
      );
      // The third job and the pipeline's end still go through: nothing was skipped that mattered.
      const third = await requestJob(c, runnerToken);
      assert.ok(third);
      assert.equal((await updateJob(c, third, { state: 'success' })).status, 200);
      const pipelines = await c.api('GET', `/api/v4/projects/${p.projectId}/pipelines`, {
        token: p.developer.token,
      });
      assert.equal(pipelines.body[0].status, 'success');
      await c.close();
    });

    it('builds the ID token and the variables of a subgroup project from what the claim read', async () => {
      // The claim reads the group lineage, the user's role and the path history with the job:
      // a project two levels down, a role inherited from the top group, a variable of each group.
      const repo = await makeRepository({
        '.gitlab-ci.yml':
          "one:\n  script: ['true']\n  id_tokens:\n    ID_TOKEN:\n      aud: https://x.example\n",
      });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const sub = await c.api('POST', '/api/v4/groups', {
        body: { name: 'Sub', path: 'sub', parent_id: p.groupId },
      });
      assert.equal(sub.status, 201);
      const deep = await c.api('POST', '/api/v4/projects', {
        body: { name: 'deep', path: 'deep', namespace_id: sub.body.id, repository_url: repo.path },
      });
      assert.equal(deep.status, 201);
      for (const [groupId, value] of [
        [p.groupId, 'top'],
        [sub.body.id, 'sub'],
      ] as const) {
        const created = await c.api('POST', `/api/v4/groups/${groupId}/variables`, {
          body: { key: 'WHERE', value },
        });
        assert.equal(created.status, 201);
      }
      const stored = [
        ['/api/v4/admin/ci/variables', { key: 'FROM_INSTANCE', value: 'i' }],
        [`/api/v4/projects/${deep.body.id}/variables`, { key: 'FROM_PROJECT', value: 'p' }],
        [`/api/v4/projects/${deep.body.id}/variables`, { key: 'HIDDEN', value: 'h', protected: true }],
      ] as const;
      for (const [path, body] of stored) assert.equal((await c.api('POST', path, { body })).status, 201);
      const runnerToken = await registerRunner(c);
      const pipeline = await c.api('POST', `/api/v4/projects/${deep.body.id}/pipeline?ref=main`, {
        token: p.developer.token,
      });
      assert.equal(pipeline.status, 201);
      const job = await requestJob(c, runnerToken);
      assert.ok(job);
      assert.equal(variable(job, 'WHERE'), 'sub', "the nearer group's variable wins");
      assert.equal(variable(job, 'FROM_INSTANCE'), 'i');
      assert.equal(variable(job, 'FROM_PROJECT'), 'p');
      assert.equal(variable(job, 'HIDDEN'), undefined, 'a protected variable only on a protected ref');
      const [, body] = (variable(job, 'ID_TOKEN') ?? '').split('.');
      const claims = JSON.parse(Buffer.from(body ?? '', 'base64url').toString('utf8'));
      assert.equal(claims.namespace_path, 'acme/sub');
      assert.equal(claims.project_path, 'acme/sub/deep');
      assert.equal(claims.user_login, `dev-app`);
      assert.equal(claims.user_access_level, 'developer', 'the role inherited from the top group');
      await c.close();
    });

    it('hands no job to a token reset or a runner deleted since the node last checked it', async () => {
      const repo = await makeRepository({ '.gitlab-ci.yml': "one:\n  script: ['true']\n" });
      const c = await startTestCoordinator(dialect);
      const p = await setUpProject(c, repo.path);
      const oldToken = await registerRunner(c);
      const other = await registerRunner(c);
      const otherId = (await c.api('POST', '/api/v4/runners/verify', { token: null, body: { token: other } }))
        .body.id;
      // Both tokens are checked (and kept by the node) by a request that finds nothing.
      assert.equal(await requestJob(c, oldToken), null);
      assert.equal(await requestJob(c, other), null);
      const reset = await c.api('POST', '/api/v4/runners/reset_authentication_token', {
        token: null,
        body: { token: oldToken },
      });
      assert.equal(reset.status, 201);
      assert.equal((await c.api('DELETE', `/api/v4/runners/${otherId}`)).status, 204);
      await c.api('POST', `/api/v4/projects/${p.projectId}/pipeline?ref=main`, { token: p.developer.token });
      assert.equal(await requestJob(c, oldToken), null, 'the reset token takes no job');
      assert.equal(await requestJob(c, other), null, 'the deleted runner takes no job');
      const job = await requestJob(c, reset.body.token);
      assert.ok(job, 'the new token takes it');
      await c.close();
    });
  });
}
