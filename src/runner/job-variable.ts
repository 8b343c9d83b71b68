/**
 * One variable of a job as the coordinator sends it (GitLab's `to_runner_variables` shape).
 * `file: true` means the value is written to a file and the variable holds the file's path.
 */
export interface JobVariable {
  readonly key: string;
  readonly value: string;
  readonly public?: boolean;
  readonly masked?: boolean;
  readonly file?: boolean;
}

/**
 * Expands `$NAME` and `${NAME}` in `text` against `variables` (the last definition of a name wins,
 * as in GitLab's variable list). Unknown names expand to the empty string, as a shell would;
 * `$$` stays a literal `$`.
 */
export function expandVariables(text: string, variables: readonly JobVariable[]): string {
  const values = new Map<string, string>();
  for (const variable of variables) values.set(variable.key, variable.value);
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, braced, bare) => {
      if (match === '$$') return '$';
      const name = (braced ?? bare) as string;
      return values.get(name) ?? '';
    },
  );
}
