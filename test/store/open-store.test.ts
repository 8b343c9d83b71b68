import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openStore } from '../../src/store/open-store.js';

describe('openStore (SQLite)', () => {
  it('creates the database file owner-only, even in a data directory made beforehand as 0755', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tessera-open-store-'));
    try {
      const dataDir = join(root, 'data');
      mkdirSync(dataDir, { mode: 0o755 });
      const store = await openStore({ database: '', dataDir });
      try {
        assert.equal(statSync(join(dataDir, 'tessera.db')).mode & 0o777, 0o600);
      } finally {
        await store.db.destroy();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('starts a new store as a copy of a template (owner-only), never over an existing one', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tessera-open-store-'));
    const marker = async (dataDir: string, template?: string) => {
      const store = await openStore({
        database: '',
        dataDir,
        ...(template ? { sqliteTemplate: template } : {}),
      });
      try {
        return (await store.db.selectFrom('groups').select('path').execute()).map((row) => row.path);
      } finally {
        await store.close();
      }
    };
    try {
      // A template with a marker row shows which stores were copied from it.
      const templateStore = await openStore({ database: '', dataDir: join(root, 'template') });
      await templateStore.db
        .insertInto('groups')
        .values({
          name: 'm',
          path: 'marker',
          fullPath: 'marker',
          parentId: null,
          visibility: 'private',
          createdAt: 1,
        })
        .execute();
      await templateStore.close();
      const template = join(root, 'template', 'tessera.db');
      chmodSync(template, 0o644);

      assert.deepEqual(await marker(join(root, 'copy'), template), ['marker']);
      assert.equal(statSync(join(root, 'copy', 'tessera.db')).mode & 0o777, 0o600);
      // An existing store is left as it is.
      assert.deepEqual(await marker(join(root, 'plain')), []);
      assert.deepEqual(await marker(join(root, 'plain'), template), []);
      // A missing template is a plain start.
      assert.deepEqual(await marker(join(root, 'missing'), join(root, 'no-such.db')), []);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
