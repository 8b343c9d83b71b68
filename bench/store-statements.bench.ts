/**
 * SQLite statement cache: two repository calls on a store with the statement cache (the default)
 * against the same calls on a store that prepares every query anew (`sqliteStatementCache: 0`, what
 * Kysely's SQLite driver does by itself), in the same run, interleaved rounds. Both stores are
 * fresh files in one temp dir with the same 50 pending jobs.
 *   - `jobs.findById`, the id changing every call (the most frequent read);
 *   - the claim: a BEGIN IMMEDIATE transaction with `lockOldestPending`, `findById` and the
 *     pending → running `transition`, then the transition back so every call does the same work.
 * Baseline measured in the same run: the store without the cache.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../src/store/open-store.js';
import { repositories } from '../src/store/repositories.js';
import { seedJobs } from '../test/store/seed-jobs.js';
import { compare, report } from './measure.js';

const JOBS = 50;
const root = mkdtempSync(join(tmpdir(), 'tessera-bench-store-statements-'));
const stores: Store[] = [];

function findById(store: Store, ids: readonly number[]): () => Promise<unknown> {
  const jobs = repositories(store.db).jobs;
  let next = 0;
  return () => jobs.findById(ids[next++ % ids.length]!);
}

function claim(store: Store, ids: readonly number[]): () => Promise<unknown> {
  return () =>
    store.transaction(async (tx) => {
      const jobs = repositories(tx).jobs;
      const id = await jobs.lockOldestPending(ids, 'sqlite');
      if (id === undefined) throw new Error('no pending job');
      const job = await jobs.findById(id);
      if (!job || !(await jobs.transition(id, ['pending'], { status: 'running', startedAt: 1 })))
        throw new Error('claim lost');
      await jobs.transition(id, ['running'], { status: 'pending', startedAt: null });
    });
}

try {
  const cached = await openStore({ database: '', dataDir: join(root, 'cached') });
  stores.push(cached);
  const uncached = await openStore({
    database: '',
    dataDir: join(root, 'uncached'),
    sqliteStatementCache: 0,
  });
  stores.push(uncached);
  const cachedIds = await seedJobs(cached, JOBS);
  const uncachedIds = await seedJobs(uncached, JOBS);

  const reads = await compare([
    { name: 'findById, statement cache', run: findById(cached, cachedIds) },
    { name: 'findById, prepare every query', run: findById(uncached, uncachedIds) },
  ]);
  report('jobs.findById on SQLite', reads, 'findById, statement cache');

  // claimJob passes every eligible pending id (up to 100) to lockOldestPending; here all 50.
  const claims = await compare([
    { name: 'claim, statement cache', run: claim(cached, cachedIds) },
    { name: 'claim, prepare every query', run: claim(uncached, uncachedIds) },
  ]);
  report('claim transaction on SQLite', claims, 'claim, statement cache');
} finally {
  for (const store of stores) await store.close();
  rmSync(root, { recursive: true, force: true });
}
