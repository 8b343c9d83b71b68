import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openStore } from '../../src/store/open-store.js';
import { DeploymentRepository } from '../../src/store/repositories/deployments.js';
import { repositories } from '../../src/store/repositories.js';
import { isUniqueViolation } from '../../src/store/unique-violation.js';
import { testDialects } from './dialects.js';
import { seedJobs } from './seed-jobs.js';

const now = 1_790_000_000_000;

for (const dialect of testDialects()) {
  describe(`migration 0021-external-deployments [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('keeps a job’s deployment reading its status from the job, and takes job-less ones', async () => {
      const location = await dialect.freshLocation();
      const open = (lastMigration?: string) =>
        openStore({ ...location, poolSize: 2, ...(lastMigration ? { lastMigration } : {}) });
      // A store written by an older Tessera, from before the migration.
      let store = await open('0020-job-queue');
      const [jobId] = await seedJobs(store, 1);
      assert.ok(jobId);
      const job = await repositories(store.db).jobs.findById(jobId);
      assert.ok(job);
      const environment = await repositories(store.db).protection.createEnvironment({
        projectId: job.projectId,
        name: 'production',
        externalUrl: null,
        tier: 'production',
        state: 'available',
        createdAt: now,
      });
      await store.db
        .insertInto('deployments')
        // The columns of that time: job_id required, no status of its own.
        .values({
          iid: 1,
          projectId: job.projectId,
          environmentId: environment.id,
          jobId,
          ref: 'main',
          sha: 'a'.repeat(40),
          createdAt: now,
        } as never)
        .execute();
      await store.close();

      store = await open();
      try {
        const deployments = new DeploymentRepository(store.db);
        const [kept] = await store.db.selectFrom('deployments').selectAll().execute();
        assert.deepEqual(
          [kept?.iid, kept?.jobId, kept?.status, kept?.userId, kept?.finishedAt, kept?.updatedAt],
          [1, jobId, null, null, null, null],
        );
        assert.ok(kept);
        const read = await deployments.findById(job.projectId, kept.id);
        assert.equal(read?.status, 'created', 'a pending job’s deployment is created, read from the job');
        await store.db
          .updateTable('jobs')
          .set({ status: 'running', startedAt: now + 5 })
          .where('id', '=', jobId)
          .execute();
        assert.equal((await deployments.findById(job.projectId, kept.id))?.status, 'running');

        // A job-less deployment now fits, after the copied rows (new id, next iid).
        const external = await store.transaction((tx) =>
          new DeploymentRepository(tx).create({
            projectId: job.projectId,
            environmentId: environment.id,
            jobId: null,
            ref: 'main',
            sha: 'b'.repeat(40),
            createdAt: now + 10,
            status: 'success',
            userId: null,
            tag: 0,
            finishedAt: now + 10,
            updatedAt: now + 10,
          }),
        );
        assert.ok(external.id > kept.id);
        assert.equal(external.iid, 2);
        assert.equal((await deployments.lastSuccessful(environment.id))?.id, external.id);

        // The indexes and constraints came back: iids stay unique per project, and a row has exactly
        // one source of its status.
        await assert.rejects(
          store.db
            .insertInto('deployments')
            .values({ ...external, id: undefined, status: 'success' } as never)
            .execute(),
          (error) => isUniqueViolation(error),
        );
        await assert.rejects(
          store.db
            .insertInto('deployments')
            .values({ ...external, id: undefined, iid: 3, jobId, status: 'success' } as never)
            .execute(),
          /check|constraint/i,
        );
        await assert.rejects(
          store.db
            .insertInto('deployments')
            .values({ ...external, id: undefined, iid: 3, status: null } as never)
            .execute(),
          /check|constraint/i,
        );
      } finally {
        await store.close();
      }
    });
  });
}
