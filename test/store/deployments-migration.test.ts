import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openStore } from '../../src/store/open-store.js';
import { repositories } from '../../src/store/repositories.js';
import { testDialects } from './dialects.js';

const now = 1_790_000_000_000;

for (const dialect of testDialects()) {
  describe(`migration 0017-deployments [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('gives existing environments their creation time as updated_at and no auto-stop time', async () => {
      const location = await dialect.freshLocation();
      const open = (lastMigration?: string) =>
        openStore({ ...location, poolSize: 2, ...(lastMigration ? { lastMigration } : {}) });
      // A store written by an older Tessera, from before the migration.
      let store = await open('0016-bridge-jobs');
      const repos = repositories(store.db);
      const group = await repos.groups.create({
        name: 'acme',
        path: 'acme',
        fullPath: 'acme',
        parentId: null,
        visibility: 'private',
        createdAt: now,
      });
      const project = await repos.projects.create({
        namespaceId: group.id,
        name: 'app',
        path: 'app',
        pathWithNamespace: 'acme/app',
        visibility: 'private',
        repositoryUrl: '/x',
        defaultBranch: 'main',
        ciConfigPath: '.gitlab-ci.yml',
        subClaimComponents: ['project_path'],
        allowedAudiences: null,
        tokenMaxLifetime: null,
        jobTimeout: null,
        createdAt: now,
        updatedAt: now,
      });
      await store.db
        .insertInto('environments')
        // The columns of that time: no auto_stop_at, no updated_at.
        .values({
          projectId: project.id,
          name: 'production',
          externalUrl: null,
          tier: 'production',
          state: 'available',
          createdAt: now,
        } as never)
        .execute();
      await store.close();

      store = await open();
      try {
        const environment = await repositories(store.db).protection.findEnvironment(project.id, 'production');
        assert.deepEqual([environment?.updatedAt, environment?.autoStopAt], [now, null]);
        const deployments = await store.db.selectFrom('deployments').selectAll().execute();
        assert.deepEqual(deployments, []);
      } finally {
        await store.close();
      }
    });
  });
}
