import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openStore } from '../../src/store/open-store.js';
import { repositories } from '../../src/store/repositories.js';
import { testDialects } from './dialects.js';

const now = 1_790_000_000_000;

for (const dialect of testDialects()) {
  describe(`migration 0019-project-public-jobs [${dialect.name}]`, { skip: dialect.skip }, () => {
    it('keeps the jobs of existing projects as public as they were (GitLab’s default, on)', async () => {
      const location = await dialect.freshLocation();
      const open = (lastMigration?: string) =>
        openStore({ ...location, poolSize: 2, ...(lastMigration ? { lastMigration } : {}) });
      // A store written by an older Tessera, from before the migration.
      let store = await open('0018-pipeline-schedule-inputs');
      const group = await repositories(store.db).groups.create({
        name: 'acme',
        path: 'acme',
        fullPath: 'acme',
        parentId: null,
        visibility: 'public',
        createdAt: now,
      });
      await store.db
        .insertInto('projects')
        // The columns of that time: no public_jobs.
        .values({
          namespaceId: group.id,
          name: 'app',
          path: 'app',
          pathWithNamespace: 'acme/app',
          visibility: 'public',
          repositoryUrl: '/x',
          defaultBranch: 'main',
          ciConfigPath: '.gitlab-ci.yml',
          subClaimComponents: '["project_path"]',
          allowedAudiences: null,
          tokenMaxLifetime: null,
          jobTimeout: null,
          createdAt: now,
          updatedAt: now,
        } as never)
        .execute();
      await store.close();

      store = await open();
      try {
        const projects = repositories(store.db).projects;
        const project = await projects.findByPath('acme/app');
        assert.ok(project);
        assert.equal(project.publicJobs, true);
        const closed = await projects.update(project.id, { publicJobs: false }, now + 1);
        assert.equal(closed.publicJobs, false);
        assert.equal((await projects.findById(project.id))?.publicJobs, false);
      } finally {
        await store.close();
      }
    });
  });
}
