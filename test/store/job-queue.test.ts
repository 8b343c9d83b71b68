import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import type { Store } from '../../src/store/open-store.js';
import { openStore } from '../../src/store/open-store.js';
import { repositories } from '../../src/store/repositories.js';
import { testDialects } from './dialects.js';
import { seedJobs } from './seed-jobs.js';

/** The queue tables beside what `jobs` says they should hold. */
async function queueAndJobs(store: Store) {
  const pending = await store.db
    .selectFrom('pendingJobs')
    .select(['jobId', 'projectId', 'pipelineId', 'tags', 'bridge'])
    .orderBy('jobId')
    .execute();
  const pendingJobs = await store.db
    .selectFrom('jobs')
    .select(['id as jobId', 'projectId', 'pipelineId', 'tags', 'bridge'])
    .where('status', '=', 'pending')
    .orderBy('id')
    .execute();
  const running = await store.db
    .selectFrom('runningJobs')
    .select(['jobId', 'projectId'])
    .orderBy('jobId')
    .execute();
  const runningJobs = await store.db
    .selectFrom('jobs')
    .select(['id as jobId', 'projectId'])
    .where('status', '=', 'running')
    .orderBy('id')
    .execute();
  return { pending, pendingJobs, running, runningJobs };
}

for (const dialect of testDialects()) {
  describe(`the claim's queue tables [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('copies the jobs pending and running when the migration runs', async () => {
      const location = await dialect.freshLocation();
      const open = (lastMigration?: string) =>
        openStore({ ...location, poolSize: 2, ...(lastMigration ? { lastMigration } : {}) });
      let store = await open('0019-project-public-jobs');
      const [pending, running, finished] = await seedJobs(store, 3);
      const jobs = repositories(store.db).jobs;
      await jobs.transition(running!, ['pending'], { status: 'running' });
      await jobs.transition(finished!, ['pending'], { status: 'success' });
      await store.close();

      store = await open();
      try {
        const state = await queueAndJobs(store);
        assert.deepEqual(
          state.pending.map((row) => row.jobId),
          [pending],
        );
        assert.deepEqual(
          state.running.map((row) => row.jobId),
          [running],
        );
        assert.deepEqual(state.pending, state.pendingJobs);
      } finally {
        await store.close();
      }
    });

    it('follows every change of a job’s status, whoever writes it, and its deletion', async () => {
      const store = await dialect.openStore();
      const ids = await seedJobs(store, 6);
      const jobs = repositories(store.db).jobs;
      const check = async (when: string) => {
        const state = await queueAndJobs(store);
        assert.deepEqual(state.pending, state.pendingJobs, `pending after ${when}`);
        assert.deepEqual(state.running, state.runningJobs, `running after ${when}`);
      };
      await check('creation');
      assert.equal((await queueAndJobs(store)).pending.length, 6);

      await jobs.transition(ids[0]!, ['pending'], { status: 'running' });
      await jobs.transition(ids[1]!, ['pending'], { status: 'running' });
      await check('claims');
      await jobs.transition(ids[0]!, ['running'], { status: 'success' });
      await jobs.transition(ids[2]!, ['pending'], { status: 'canceled' });
      await check('an end and a cancel');
      // A write that leaves the status as it was, and one of another column, change nothing.
      await sql`update jobs set status = status, queued_at = 1 where id in (${ids[1]}, ${ids[3]})`.execute(
        store.db,
      );
      await check('writes that keep the status');
      // A bulk write (a whole pipeline put back in the queue) and a delete.
      await sql`update jobs set status = 'pending' where id in (${ids[0]}, ${ids[1]}, ${ids[2]})`.execute(
        store.db,
      );
      await check('a bulk write');
      await sql`delete from jobs where id = ${ids[4]}`.execute(store.db);
      await check('a delete');
      assert.deepEqual(
        (await queueAndJobs(store)).pending.map((row) => row.jobId),
        [ids[0], ids[1], ids[2], ids[3], ids[5]],
      );
    });
  });
}
