import { createHash } from 'node:crypto';
import { type PostgresPool, type PostgresPoolClient, type RawBuilder, sql } from 'kysely';
import type pg from 'pg';

/**
 * The comment that marks a statement to be sent to PostgreSQL as a named (prepared) statement:
 * write it first in a `sql` template, as `${PREPARED}select …`.
 */
export const PREPARED: RawBuilder<unknown> = sql.raw('/* prepared */ ');
const MARK = '/* prepared */ ';

/**
 * How many marked SQL texts are named at most; later ones run unnamed. PostgreSQL keeps a named
 * statement for the life of its connection, so the count must stay bounded; the marked
 * statements have a few variants each (the claim's shape depends on the kind of runner).
 */
export const MAX_PREPARED_TEXTS = 64;

/**
 * A `pg` pool for Kysely's `PostgresDialect` that sends the statements marked {@link PREPARED} as
 * named statements: PostgreSQL parses and plans them once per connection (then reuses the plan
 * when its generic plan costs no more than a fresh one), where Kysely sends every query unnamed,
 * parsed and planned anew. Only the hot statements of a dispatch are marked: the claim's plan
 * took about as long as its execution under the fair-dispatch benchmark. Names are derived from
 * the text, which holds `$n` parameters and never a value.
 *
 * @example
 * ```ts
 * const dialect = new PostgresDialect({ pool: preparingPool(new pg.Pool({ connectionString })) });
 * ```
 */
export function preparingPool(pool: pg.Pool): PostgresPool {
  const names = new Map<string, string>();
  const nameOf = (text: string): string | undefined => {
    if (!text.startsWith(MARK)) return undefined;
    let name = names.get(text);
    if (name === undefined && names.size < MAX_PREPARED_TEXTS) {
      name = `tessera_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
      names.set(text, name);
    }
    return name;
  };
  // One wrapper per pooled client: Kysely keeps a connection object per client it is given.
  const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  return {
    async connect() {
      const client = await pool.connect();
      let wrapper = wrappers.get(client);
      if (wrapper === undefined) {
        const query = ((text: unknown, values?: readonly unknown[]) => {
          const name = typeof text === 'string' ? nameOf(text) : undefined;
          if (name === undefined) return client.query(text as string, values as unknown[]);
          return client.query({ name, text: text as string, values: values as unknown[] });
        }) as unknown as PostgresPoolClient['query'];
        wrapper = { query, release: (destroy?: boolean) => client.release(destroy) };
        wrappers.set(client, wrapper);
      }
      return wrapper;
    },
    end: () => pool.end(),
  };
}
