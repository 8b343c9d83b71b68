import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
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
});
