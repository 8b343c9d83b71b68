import { chmodSync, closeSync, constants, copyFileSync, existsSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { CamelCasePlugin, Kysely, PostgresDialect, SqliteDialect, sql, type Transaction } from 'kysely';
import { TesseraError } from '../errors.js';
import { dataDirExists, ensureDataDir } from './data-dir.js';
import { migrateToLatest } from './migrate.js';
import { preparingPool } from './prepared-statements.js';
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
  /** Whether the statements marked `PREPARED` go to PostgreSQL as named statements (default true). */
  pgPreparedStatements?: boolean;
  /** Migrate only up to this migration (tests of a migration start from the store before it). */
  lastMigration?: string;
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
  /**
   * `false`: open only a store that exists (a `tessera.db` in the data directory, or a PostgreSQL
   * database Tessera has migrated), for commands that work on the coordinator's store (`tessera
   * keys`, `tessera oidc export`): run in the wrong directory, they must not make a new, empty
   * one and report success on it. Default true.
   */
  create?: boolean;
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
  const file = join(options.dataDir, 'tessera.db');
  if (options.create === false) {
    if (!dataDirExists(options.dataDir) || !existsSync(file)) {
      throw new TesseraError(
        'ERR_STORE_NOT_FOUND',
        `no Tessera store in ${resolve(options.dataDir)} (it has no tessera.db), and this command does not create one: ` +
          'give --data-dir (TESSERA_DATA_DIR) the data directory of tessera serve, or --database (TESSERA_DATABASE_URL) its PostgreSQL URL',
        { details: { dataDir: resolve(options.dataDir) } },
      );
    }
  } else {
    ensureDataDir(options.dataDir);
  }
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
  await migrateToLatest(base as unknown as Kysely<unknown>, 'sqlite', undefined, options.lastMigration);
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
  const base = new Kysely<Database>({
    dialect: new PostgresDialect({
      pool: options.pgPreparedStatements === false ? pool : preparingPool(pool),
    }),
  });
  try {
    // Connect once first, so an unreachable server is reported as such rather than as a failed migration.
    try {
      (await pool.connect()).release();
    } catch (error) {
      throw unreachable(options.database, error);
    }
    if (options.create === false) {
      // The migrator's bookkeeping table is there once Tessera has opened this database.
      const table = schema ? `${schema}.kysely_migration` : 'kysely_migration';
      const found = await pool.query<{ found: boolean }>('select to_regclass($1) is not null as found', [
        table,
      ]);
      if (found.rows[0]?.found !== true) {
        throw new TesseraError(
          'ERR_STORE_NOT_FOUND',
          `no Tessera store in the PostgreSQL database ${describePostgres(options.database)} (Tessera has never opened it), ` +
            'and this command does not create one: give --database (TESSERA_DATABASE_URL) the database of tessera serve',
        );
      }
    }
    if (schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await migrateToLatest(base as unknown as Kysely<unknown>, 'postgres', schema, options.lastMigration);
  } catch (error) {
    await base.destroy();
    throw error;
  }
  return makeStore(base, 'postgres');
}

/** `user@host:port/database` of a PostgreSQL URL: never its password or query. */
export function describePostgres(database: string): string {
  try {
    const url = new URL(database);
    const user = url.username === '' ? '' : `${decodeURIComponent(url.username)}@`;
    const host = url.hostname === '' ? 'localhost' : url.hostname;
    return `${user}${host}:${url.port === '' ? '5432' : url.port}${url.pathname === '/' ? '' : url.pathname}`;
  } catch {
    return '(an unparsable URL)';
  }
}

/** Why a connection to PostgreSQL failed, in words, from a Node or PostgreSQL error code. */
const CONNECT_FAILURES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused: nothing listens there',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset by the server',
  '28P01': 'password authentication failed',
  '28000': 'the server refused this user (pg_hba.conf)',
  '3D000': 'the database does not exist',
};

/**
 * `ERR_STORE_UNREACHABLE` naming the host and port that refused (from the error when Node names
 * them, else from the URL) and why; never the URL's password.
 */
function unreachable(database: string, error: unknown): TesseraError {
  // Node's happy-eyeballs connect fails with an AggregateError holding one error per address tried.
  const inner = error instanceof AggregateError && error.errors.length > 0 ? error.errors : [error];
  const first = inner[0] as (NodeJS.ErrnoException & { address?: string; port?: number }) | undefined;
  const code = first?.code ?? (error as NodeJS.ErrnoException | undefined)?.code;
  const addresses = [
    ...new Set(
      inner
        .map((item) => item as { address?: string; port?: number })
        .filter((item) => typeof item.address === 'string' && typeof item.port === 'number')
        .map((item) =>
          item.address!.includes(':') ? `[${item.address}]:${item.port}` : `${item.address}:${item.port}`,
        ),
    ),
  ];
  const reason =
    (code !== undefined && Object.hasOwn(CONNECT_FAILURES, code) ? CONNECT_FAILURES[code] : undefined) ??
    (error instanceof Error && error.message !== '' ? error.message : 'unknown error');
  return new TesseraError(
    'ERR_STORE_UNREACHABLE',
    `cannot connect to PostgreSQL ${describePostgres(database)}${
      addresses.length > 0 ? ` (${addresses.join(', ')})` : ''
    }: ${reason}${code ? ` (${code})` : ''}; check --database (TESSERA_DATABASE_URL) and that the server is running`,
    { cause: error },
  );
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
