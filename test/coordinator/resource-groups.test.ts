// Resource groups on both dialects: filing jobs under a group, the claimable set per process mode,
// and the in-transaction check (a row lock on PostgreSQL).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  attachResourceGroup,
  resourceGroupAllows,
  resourceGroupFree,
} from '../../src/coordinator/resource-groups.js';
import { repositories } from '../../src/store/repositories.js';
import { testDialects } from '../store/dialects.js';
import { seedJobs } from '../store/seed-jobs.js';

for (const dialect of testDialects()) {
  describe(`resource groups [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('lets one job per free group start, the next by process mode, and refuses a second while one runs', async () => {
      const store = await dialect.openStore();
      const [a, b, c, other] = await seedJobs(store, 4);
      const repos = repositories(store.db);
      const job = await repos.jobs.findById(a!);
      const projectId = job!.projectId;
      // b and c in pipelines of their own, newer than a's.
      const first = await repos.pipelines.findById(job!.pipelineId);
      for (const id of [b!, c!]) {
        const { id: _id, ...copy } = first!;
        const pipeline = await repos.pipelines.create(copy);
        await store.db.updateTable('jobs').set({ pipelineId: pipeline.id }).where('id', '=', id).execute();
      }
      for (const id of [a!, b!, c!]) await attachResourceGroup(store.db, projectId, id, 'production', 1);
      await attachResourceGroup(store.db, projectId, other!, null, 1);
      const allows = (id: number) => store.transaction((tx) => resourceGroupAllows(tx, id));
      assert.deepEqual(
        [await allows(a!), await allows(b!), await allows(c!), await allows(other!)],
        [true, true, true, true],
      );
      await store.db.updateTable('resourceGroups').set({ processMode: 'oldest_first' }).execute();
      assert.deepEqual([await allows(a!), await allows(b!), await allows(c!)], [true, false, false]);
      await store.db.updateTable('resourceGroups').set({ processMode: 'newest_first' }).execute();
      assert.deepEqual([await allows(a!), await allows(b!), await allows(c!)], [false, false, true]);

      await store.db.updateTable('resourceGroups').set({ processMode: 'unordered' }).execute();
      await repos.jobs.transition(a!, ['pending'], { status: 'running' });
      assert.deepEqual([await allows(b!), await allows(c!), await allows(other!)], [false, false, true]);
      assert.equal(await store.transaction((tx) => resourceGroupFree(tx, b!)), false);
      assert.equal(await store.transaction((tx) => resourceGroupFree(tx, other!)), true);
      await repositories(store.db).jobs.transition(a!, ['running'], { status: 'success' });
      assert.equal(await store.transaction((tx) => resourceGroupFree(tx, b!)), true);
      // The group is made once, however many jobs use it.
      const groups = await store.db.selectFrom('resourceGroups').selectAll().execute();
      assert.equal(groups.length, 1);
    });
  });
}
