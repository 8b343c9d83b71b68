// Resource groups on both dialects: filing jobs under a group, the claimable set per process mode,
// and the in-transaction check (a row lock on PostgreSQL).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  attachResourceGroup,
  claimableByResourceGroup,
  resourceGroupFree,
} from '../../src/coordinator/resource-groups.js';
import { repositories } from '../../src/store/repositories.js';
import { testDialects } from '../store/dialects.js';
import { seedJobs } from '../store/seed-jobs.js';

for (const dialect of testDialects()) {
  describe(`resource groups [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('offers one job per free group, by process mode, and refuses a second while one runs', async () => {
      const store = await dialect.openStore();
      const [a, b, c, other] = await seedJobs(store, 4);
      const job = await repositories(store.db).jobs.findById(a!);
      const projectId = job!.projectId;
      for (const id of [a!, b!, c!]) await attachResourceGroup(store.db, projectId, id, 'production', 1);
      await attachResourceGroup(store.db, projectId, other!, null, 1);
      // Same pipeline here, so pipeline ids tie; give the jobs distinct ones as the claim sees them.
      const candidates = [
        { id: a!, pipelineId: 1 },
        { id: b!, pipelineId: 2 },
        { id: c!, pipelineId: 3 },
        { id: other!, pipelineId: 1 },
      ];
      assert.deepEqual(await claimableByResourceGroup(store.db, candidates), [a, other]);
      await store.db.updateTable('resourceGroups').set({ processMode: 'newest_first' }).execute();
      assert.deepEqual(await claimableByResourceGroup(store.db, candidates), [c, other]);

      await repositories(store.db).jobs.transition(a!, ['pending'], { status: 'running' });
      assert.deepEqual(await claimableByResourceGroup(store.db, candidates.slice(1)), [other]);
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
