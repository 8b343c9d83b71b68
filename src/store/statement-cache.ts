import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';

/**
 * Statements kept when no capacity is given: well above the distinct SQL texts one coordinator
 * process runs (at most 87 in the end-to-end pipeline tests).
 */
export const DEFAULT_STATEMENT_CACHE_CAPACITY = 256;

/**
 * A better-sqlite3 database for Kysely's `SqliteDialect` whose `prepare` answers the statement it
 * prepared before for the same SQL text, keeping the `capacity` most recently used (0 keeps none).
 *
 * Kysely's SQLite driver prepares every query anew, and the repositories run the same few SQL
 * texts over and over: in a CPU profile of `tessera run`, better-sqlite3's `prepare` was about half
 * of Kysely's query time. The key is Kysely's compiled SQL, whose values are `?` parameters, so no
 * value is ever part of a key. Reusing a statement is safe because better-sqlite3 runs it to
 * completion synchronously inside `all`/`run` and resets it; the one exception, a statement in the
 * middle of `iterate` (Kysely's `stream()`), is never handed out again until its iterator ends.
 *
 * @example
 * ```ts
 * const dialect = new SqliteDialect({ database: new StatementCache(new SqliteDatabase(file)) });
 * ```
 */
export class StatementCache implements SqliteDatabase {
  readonly #database: BetterSqlite3.Database;
  // A Map iterates in insertion order, so re-inserting on every hit keeps the least recently used first.
  readonly #statements = new Map<string, BetterSqlite3.Statement<unknown[]>>();

  /**
   * @param database The open better-sqlite3 database; {@link close} closes it.
   * @param capacity How many statements to keep at most.
   */
  constructor(
    database: BetterSqlite3.Database,
    readonly capacity: number = DEFAULT_STATEMENT_CACHE_CAPACITY,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 0)
      throw new TypeError('invalid statement cache capacity');
    this.#database = database;
  }

  /** How many statements are cached now (at most {@link capacity}). */
  get size(): number {
    return this.#statements.size;
  }

  /** The cached statement for `sql`, or a newly prepared one (cached unless the cache is off). */
  prepare(sql: string): BetterSqlite3.Statement<unknown[]> {
    const cached = this.#statements.get(sql);
    if (cached !== undefined) {
      // Still iterating (a stream not yet drained): better-sqlite3 refuses to run it again, a fresh one runs.
      if (cached.busy) return this.#database.prepare(sql);
      this.#statements.delete(sql);
      this.#statements.set(sql, cached);
      return cached;
    }
    const statement = this.#database.prepare<unknown[]>(sql);
    if (this.capacity === 0) return statement;
    if (this.#statements.size >= this.capacity) {
      // No finalize in better-sqlite3: the evicted statement is freed when garbage collected.
      const oldest = this.#statements.keys().next();
      if (!oldest.done) this.#statements.delete(oldest.value);
    }
    this.#statements.set(sql, statement);
    return statement;
  }

  /** Drops the cached statements and closes the database (which finalizes every statement). */
  close(): void {
    this.#statements.clear();
    this.#database.close();
  }
}
