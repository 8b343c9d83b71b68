import type { SelectQueryBuilder } from 'kysely';

/** Which rows of a list to read: at most `limit`, after skipping `offset`. */
export interface PageWindow {
  limit: number;
  offset: number;
}

/** One page of a list and the number of rows of the whole list. */
export interface Page<T> {
  items: T[];
  total: number;
}

/**
 * Reads one page of `query` in SQL (`LIMIT`/`OFFSET`) and counts the whole list with the same
 * conditions (`count(*)` without the order), so no list is read whole to be sliced in memory.
 */
export async function readPage<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  window: PageWindow,
): Promise<Page<O>> {
  const [items, counted] = await Promise.all([
    query.limit(window.limit).offset(window.offset).execute(),
    query
      .clearSelect()
      .clearOrderBy()
      .select((eb) => eb.fn.countAll().as('total'))
      .executeTakeFirst(),
  ]);
  // PostgreSQL answers count(*) as a bigint string.
  return { items, total: Number((counted as { total?: unknown } | undefined)?.total ?? 0) };
}

/** Makes a `LIKE` pattern that finds `text` anywhere, `%`, `_` and `\` taken literally (with `ESCAPE '\'`). */
export function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
