import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openStore, type Store } from '../../src/store/open-store.js';
import { repositories } from '../../src/store/repositories.js';
import { isUniqueViolation } from '../../src/store/unique-violation.js';
import { testDialects } from './dialects.js';

const now = 1_790_000_000_000;

function group(store: Store, path: string, fullPath: string, parentId: number | null = null) {
  return repositories(store.db).groups.create({
    name: path,
    path,
    fullPath,
    parentId,
    visibility: 'private',
    createdAt: now,
  });
}

function project(store: Store, namespace: { id: number; fullPath: string }, path: string) {
  return repositories(store.db).projects.create({
    namespaceId: namespace.id,
    name: path,
    path,
    pathWithNamespace: `${namespace.fullPath}/${path}`,
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
}

async function refusal(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return false;
  } catch (error) {
    return isUniqueViolation(error);
  }
}

for (const dialect of testDialects()) {
  describe(`group and project paths unique regardless of case [${dialect.name}]`, {
    skip: dialect.skip,
  }, () => {
    it('refuses a path that differs only in case, in the same group; allows it in another', async () => {
      const store = await dialect.openStore();
      const acme = await group(store, 'acme', 'acme');
      const other = await group(store, 'other', 'other');
      assert.ok(await refusal(group(store, 'ACME', 'ACME')), 'top-level group');
      const sub = await group(store, 'sub', 'acme/sub', acme.id);
      assert.ok(await refusal(group(store, 'Sub', 'acme/Sub', acme.id)), 'subgroup');
      await project(store, acme, 'app');
      assert.ok(await refusal(project(store, acme, 'App')), 'project');
      await project(store, other, 'App');
      await project(store, sub, 'APP');
    });

    it('finds a project by its path whatever the case, as GitLab does', async () => {
      const store = await dialect.openStore();
      const acme = await group(store, 'Acme', 'Acme');
      const app = await project(store, acme, 'App');
      const projects = repositories(store.db).projects;
      assert.equal((await projects.findByPath('acme/app'))?.id, app.id);
      assert.equal((await projects.findByPath('ACME/APP'))?.id, app.id);
      assert.equal(await projects.findByPath('acme/ap'), undefined);
    });

    it('migrates a store holding case twins: the oldest keeps its path, younger ones become <path>-<id>', async () => {
      const location = await dialect.freshLocation();
      const open = (lastMigration?: string) =>
        openStore({ ...location, poolSize: 2, ...(lastMigration ? { lastMigration } : {}) });
      // A store written by an older Tessera, from before the migration.
      let store = await open('0004-job-trace-bytes');
      const acme = await group(store, 'acme', 'acme');
      const twin = await group(store, 'Acme', 'Acme');
      const below = await group(store, 'team', 'Acme/team', twin.id);
      const app = await project(store, acme, 'app');
      const appTwin = await project(store, acme, 'App');
      const underTwin = await project(store, below, 'svc');
      await store.close();

      store = await open();
      try {
        const repos = repositories(store.db);
        const groups = await repos.groups.list();
        assert.deepEqual(
          groups.map((g) => [g.id, g.path, g.fullPath]),
          [
            [acme.id, 'acme', 'acme'],
            [twin.id, `Acme-${twin.id}`, `Acme-${twin.id}`],
            [below.id, 'team', `Acme-${twin.id}/team`],
          ],
        );
        assert.equal((await repos.projects.findById(app.id))?.pathWithNamespace, 'acme/app');
        const renamed = await repos.projects.findById(appTwin.id);
        assert.equal(renamed?.path, `App-${appTwin.id}`);
        assert.equal(renamed?.pathWithNamespace, `acme/App-${appTwin.id}`);
        assert.equal(
          (await repos.projects.findById(underTwin.id))?.pathWithNamespace,
          `Acme-${twin.id}/team/svc`,
        );
        const history = await store.db
          .selectFrom('projectPathHistory')
          .select(['path', 'projectId'])
          .where('projectId', '=', appTwin.id)
          .orderBy('id')
          .execute();
        assert.deepEqual(
          history.map((entry) => entry.path),
          ['acme/App', `acme/App-${appTwin.id}`],
        );
        assert.ok(await refusal(project(store, acme, 'APP')), 'the index is there');
      } finally {
        await store.close();
      }
    });
  });
}
