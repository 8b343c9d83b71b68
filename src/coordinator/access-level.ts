/** GitLab's access levels. */
export const ACCESS_LEVELS = {
  guest: 10,
  reporter: 20,
  developer: 30,
  maintainer: 40,
  owner: 50,
} as const;

/** A role name (lowercase, as in the `user_access_level` claim). */
export type RoleName = keyof typeof ACCESS_LEVELS;

/** The valid `access_level` values. */
export const ACCESS_LEVEL_VALUES: readonly number[] = Object.values(ACCESS_LEVELS);

/** Lowercase role name of an access level (`40` → `maintainer`), or null for none. */
export function roleName(level: number | null): RoleName | null {
  if (level === null) return null;
  const found = (Object.entries(ACCESS_LEVELS) as [RoleName, number][]).find(([, value]) => value === level);
  return found ? found[0] : null;
}

/** GitLab's description of an access level, as in `access_level_description`. */
export function accessLevelDescription(level: number): string {
  if (level === 0) return 'No one';
  const name = roleName(level);
  if (name === null) return `Level ${level}`;
  return name === 'maintainer' ? 'Maintainers' : `${name[0]!.toUpperCase()}${name.slice(1)}s`;
}
