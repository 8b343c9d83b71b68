/** Options of {@link expandVariables}. */
export interface ExpandOptions {
  /**
   * What an unknown variable becomes: `'empty'` (GitLab's server-side expansion, the default) or
   * `'keep'` (the reference stays as written).
   */
  readonly unknown?: 'empty' | 'keep';
}

const REFERENCE =
  /\$\$|\$([A-Za-z_][A-Za-z0-9_]*)|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|%([A-Za-z_][A-Za-z0-9_]*)%/g;

/**
 * Expands variable references in `text` with GitLab's syntax: `$NAME`, `${NAME}` and `%NAME%`.
 * `$$` stands for a literal `$` (so `$$NAME` is not expanded). Expansion is one pass: a value
 * that itself contains `$OTHER` is inserted as it is, never expanded again, so a hostile value
 * cannot grow without bound.
 *
 * @example expandVariables('https://vault/${CI_PROJECT_PATH}', { CI_PROJECT_PATH: 'a/b' }) // 'https://vault/a/b'
 */
export function expandVariables(
  text: string,
  variables: Readonly<Record<string, string>>,
  options: ExpandOptions = {},
): string {
  const keep = options.unknown === 'keep';
  return text.replace(REFERENCE, (whole, plain?: string, braced?: string, percent?: string) => {
    if (whole === '$$') return '$';
    const name = plain ?? braced ?? percent ?? '';
    if (Object.hasOwn(variables, name)) return variables[name] ?? '';
    return keep ? whole : '';
  });
}
