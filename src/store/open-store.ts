import { chmodSync, closeSync, constants, copyFileSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { CamelCasePlugin, Kysely, PostgresDialect, SqliteDialect, sql, type Transaction } from 'kysely';
import { migrateToLatest } from './migrate.js';
import type { Database } from './schema.js';
import { DEFAULT_STATEMENT_CACHE_CAPACITY, StatementCache } from './statement-cache.js';

/** Which SQL engine a store runs on. */
export type StoreDialect = 'sqlite' | 'postgres';

/** A Kysely handle on the store's tables, or a transaction on them. */
export type Db = Kysely<Database> | Transaction<Database>;

/** An open store: the query builder, its dialect and a way to close it. */
export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: StoreDialect;
  /** Runs `fn` in one transaction (a write transaction on SQLite, READ COMMITTED on PostgreSQL). */
  transaction<T>(fn: (tx: Transaction<Database>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Where the store lives. */
export interface OpenStoreOptions {
  /** `postgres://…` for PostgreSQL; empty for SQLite at `<dataDir>/tessera.db`. */
  database: string;
  dataDir: string;
  /** PostgreSQL schema to use instead of `public` (tests use one per store). */
  pgSchema?: string;
  /** Connections in the PostgreSQL pool. */
  poolSize?: number;
  /**
   * Prepared SQLite statements kept for reuse (default {@link DEFAULT_STATEMENT_CACHE_CAPACITY});
   * 0 prepares every query anew, as Kysely alone does (the benchmark's baseline).
   */
  sqliteStatementCache?: number;
  /**
   * A migrated, empty SQLite database to start a new store from (see
   * `scripts/build-store-template.mjs`): copied when the store does not exist yet, then migrated as
   * usual, which finds nothing or little left to do. Creating the tables one migration at a time
   * is most of a new store's opening.
   */
  sqliteTemplate?: string;
}

// int8 (BIGINT, COUNT) arrives as a string from pg; every such value here is a millisecond time or
// a count, well inside Number's safe range.
const INT8_OID = 20;

/**
 * Opens the store and runs the migrations. SQLite uses WAL so readers never wait for the writer,
 * `busy_timeout` so a second process waits for the lock instead of failing, and a cache of
 * prepared statements ({@link StatementCache}).
 *
 * @example
 * ```ts
 * const store = await openStore({ database: '', dataDir: './data' });
 * ```
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  if (options.database !== '') return openPostgres(options);
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const file = join(options.dataDir, 'tessera.db');
  if (options.sqliteTemplate !== undefined) {
    // COPYFILE_EXCL: never over an existing store. A missing template means a plain start.
    try {
      copyFileSync(options.sqliteTemplate, file, constants.COPYFILE_EXCL);
      chmodSync(file, 0o600);
    } catch {
      // an existing store, or no template: opened and migrated below as it is
    }
  }
  // The database holds hashes, encrypted keys and job logs: create it owner-only (SQLite gives its
  // -wal and -shm files the same mode), even when the data directory was made beforehand as 0755.
  closeSync(openSync(file, 'a', 0o600));
  const sqlite = new SqliteDatabase(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('synchronous = NORMAL');
  // Kysely prepares every query anew; the cache reuses the statement of an SQL text seen before.
  const database = new StatementCache(
    sqlite,
    options.sqliteStatementCache ?? DEFAULT_STATEMENT_CACHE_CAPACITY,
  );
  const base = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  await migrateToLatest(base as unknown as Kysely<unknown>, 'sqlite');
  return makeStore(base, 'sqlite');
}

async function openPostgres(options: OpenStoreOptions): Promise<Store> {
  const schema = options.pgSchema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(schema)) throw new TypeError('invalid schema name');
  // Loaded only here: importing pg costs about 0.1 s, which every SQLite start (`tessera run`) would pay.
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({
    connectionString: options.database,
    max: options.poolSize ?? 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as never,
    },
  });
  const base = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    if (schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await migrateToLatest(base as unknown as Kysely<unknown>, 'postgres', schema);
  } catch (error) {
    await base.destroy();
    throw error;
  }
  return makeStore(base, 'postgres');
}

function makeStore(base: Kysely<Database>, dialect: StoreDialect): Store {
  const db = base.withPlugin(new CamelCasePlugin());
  return {
    db,
    dialect,
    transaction:
      dialect === 'sqlite' ? (fn) => immediateTransaction(db, fn) : (fn) => db.transaction().execute(fn),
    close: () => base.destroy(),
  };
}

/**
 * A SQLite write transaction taken with `BEGIN IMMEDIATE`: the write lock is held from the start,
 * so a second process on the same file waits (busy_timeout) instead of failing with
 * SQLITE_BUSY_SNAPSHOT when both read first and then write, as a deferred transaction would.
 */
export async function immediateTransaction<T>(
  db: Kysely<Database>,
  fn: (tx: Transaction<Database>) => Promise<T>,
): Promise<T> {
  return db.connection().execute(async (connection) => {
    await sql`begin immediate`.execute(connection);
    try {
      // The connection is the transaction: the same single connection, held until commit.
      const result = await fn(connection as unknown as Transaction<Database>);
      await sql`commit`.execute(connection);
      return result;
    } catch (error) {
      await sql`rollback`.execute(connection);
      throw error;
    }
  });
}
