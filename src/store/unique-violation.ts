/**
 * Whether `error` is a unique-constraint violation from either dialect (SQLite's
 * `SQLITE_CONSTRAINT_UNIQUE`/`_PRIMARYKEY`, PostgreSQL's SQLSTATE 23505), so that a duplicate
 * answers 409 instead of 500 even when two requests race past the existence check.
 */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
