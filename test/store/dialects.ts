import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import pg from 'pg';
import { openStore, type Store, type StoreDialect } from '../../src/store/open-store.js';

/** One dialect under test: how to open a fresh, empty store on it. */
export interface TestDialect {
  name: StoreDialect;
  /** Why this dialect is skipped (PostgreSQL without TESSERA_TEST_DATABASE_URL), or undefined. */
  skip: string | undefined;
  /** A fresh, migrated, empty store; closed (and its files removed) when the test file ends. */
  openStore(): Promise<Store>;
  /** Settings that point a coordinator at a fresh store of this dialect: `{ database, dataDir }`. */
  freshLocation(): Promise<{ database: string; dataDir: string; pgSchema?: string }>;
}

const PG_URL = process.env.TESSERA_TEST_DATABASE_URL ?? '';
let pgDatabase: Promise<string> | undefined;
const cleanups: Array<() => Promise<void>> = [];
let hooked = false;

/**
 * The dialects every store and coordinator test runs on: SQLite always, PostgreSQL when
 * `TESSERA_TEST_DATABASE_URL` is set. Each test file gets its own PostgreSQL database (dropped when
 * the file ends) and each store a schema of its own inside it, so files run in parallel.
 *
 * @example
 * ```ts
 * for (const dialect of testDialects()) describe(`users [${dialect.name}]`, { skip: dialect.skip }, () => { … });
 * ```
 */
export function testDialects(): TestDialect[] {
  if (!hooked) {
    hooked = true;
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });
  }
  return [
    {
      name: 'sqlite',
      skip: undefined,
      async freshLocation() {
        const dataDir = await mkdtemp(join(tmpdir(), 'tessera-store-'));
        cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
        return { database: '', dataDir };
      },
      async openStore() {
        const location = await this.freshLocation();
        const store = await openStore(location);
        cleanups.push(() => store.close());
        return store;
      },
    },
    {
      name: 'postgres',
      skip: PG_URL === '' ? 'TESSERA_TEST_DATABASE_URL is not set; PostgreSQL tests skipped' : undefined,
      async freshLocation() {
        const database = await fileDatabase();
        const dataDir = await mkdtemp(join(tmpdir(), 'tessera-store-'));
        cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
        return { database, dataDir, pgSchema: `s_${randomBytes(6).toString('hex')}` };
      },
      async openStore() {
        const location = await this.freshLocation();
        const store = await openStore({ ...location, poolSize: 4 });
        cleanups.push(() => store.close());
        return store;
      },
    },
  ];
}

/** Creates this file's database on first use and registers its removal. */
function fileDatabase(): Promise<string> {
  pgDatabase ??= (async () => {
    const name = `tessera_t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    cleanups.unshift(async () => {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    });
    const url = new URL(PG_URL);
    url.pathname = `/${name}`;
    return url.toString();
  })();
  return pgDatabase;
}
