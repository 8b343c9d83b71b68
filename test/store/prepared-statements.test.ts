import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompiledQuery, Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { openStore } from '../../src/store/open-store.js';
import { MAX_PREPARED_TEXTS, PREPARED, preparingPool } from '../../src/store/prepared-statements.js';
import { testDialects } from './dialects.js';

const postgres = testDialects().find((dialect) => dialect.name === 'postgres')!;

describe('statements sent as named statements [postgres]', { skip: postgres.skip }, () => {
  it('prepares the marked statements once per connection, a bounded number of texts, nothing else', async () => {
    const { database } = await postgres.freshLocation();
    // One connection, so every statement below meets the same server session.
    const db = new Kysely<unknown>({
      dialect: new PostgresDialect({
        pool: preparingPool(new pg.Pool({ connectionString: database, max: 1 })),
      }),
    });
    try {
      const prepared = async () =>
        (
          await sql<{
            statement: string;
          }>`select statement from pg_prepared_statements order by prepare_time`.execute(db)
        ).rows.map((row) => row.statement);

      for (const value of [1, 2, 3]) {
        const { rows } = await sql<{ n: number }>`${PREPARED}select ${value}::int + 1 as n`.execute(db);
        assert.equal(rows[0]?.n, value + 1, 'each run gets its own values');
      }
      await sql`select 1 as unmarked`.execute(db);
      assert.deepEqual(await prepared(), ['/* prepared */ select $1::int + 1 as n']);

      // Texts past the bound run unnamed: the session never holds more than MAX_PREPARED_TEXTS.
      for (let index = 0; index < MAX_PREPARED_TEXTS + 5; index += 1) {
        const { rows } = await db.executeQuery<{ n: number }>(
          CompiledQuery.raw(`/* prepared */ select ${index} as n`),
        );
        assert.equal(rows[0]?.n, index);
      }
      assert.equal((await prepared()).length, MAX_PREPARED_TEXTS);
    } finally {
      await db.destroy();
    }
  });

  it('sends every statement unnamed when databasePreparedStatements is off (a pooler that cannot keep them)', async () => {
    const store = await openStore({
      ...(await postgres.freshLocation()),
      poolSize: 1,
      pgPreparedStatements: false,
    });
    try {
      await sql`${PREPARED}select 1 as one`.execute(store.db);
      const { rows } = await sql<{
        n: number;
      }>`select count(*)::int as n from pg_prepared_statements`.execute(store.db);
      assert.equal(rows[0]?.n, 0);
    } finally {
      await store.close();
    }
  });
});
