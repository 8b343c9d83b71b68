// Writes dist/store-template/tessera.db: an empty SQLite store with every migration applied, built
// by tsc's dist/store/open-store.js itself. `tessera run` starts its throwaway store as a copy of
// it (openStore's `sqliteTemplate`), since creating the tables one migration at a time is most of
// opening a new store. The copy is migrated as usual, so a template older than the code is caught
// up and a missing one only costs time.
//
//   node scripts/build-store-template.mjs   (after tsc; npm run build runs both)
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { openStore } = await import(join(root, 'dist', 'store', 'open-store.js'));
const work = await mkdtemp(join(tmpdir(), 'tessera-store-template-'));
try {
  const store = await openStore({ database: '', dataDir: work });
  // Closing the only connection checkpoints the WAL into the database file and removes the WAL.
  await store.close();
  const target = join(root, 'dist', 'store-template');
  await rm(target, { recursive: true, force: true });
  await mkdir(target, { recursive: true });
  await rename(join(work, 'tessera.db'), join(target, 'tessera.db'));
} finally {
  await rm(work, { recursive: true, force: true });
}
