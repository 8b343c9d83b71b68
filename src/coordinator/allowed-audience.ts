/**
 * The first audience of `audience` that the project's `ci_id_token_allowed_audiences` does not
 * list, or null when every one is listed (or the project lists none, which allows any). Every way
 * a job gets a token goes through it: `id_tokens` minted at pickup (and so the tokens `secrets:`
 * log in to Vault with) and tokens on demand, so that the YAML cannot step around the setting.
 *
 * @example refusedAudience(['vault'], ['vault', 'sts.amazonaws.com']) // 'sts.amazonaws.com'
 */
export function refusedAudience(
  allowed: readonly string[] | null,
  audience: string | readonly string[],
): string | null {
  if (allowed === null) return null;
  for (const one of typeof audience === 'string' ? [audience] : audience) {
    if (!allowed.includes(one)) return one;
  }
  return null;
}

/** How a refused audience is named in messages: quoted, and short. */
export function describeAudience(audience: string): string {
  return JSON.stringify(audience.slice(0, 200));
}
