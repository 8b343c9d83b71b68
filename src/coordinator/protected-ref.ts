import type { Db } from '../store/open-store.js';
import { repositories } from '../store/repositories.js';
import { accessLevelDescription, roleName } from './access-level.js';
import { refMatches } from './ref-pattern.js';

/** How a ref is protected: whether it is, and the lowest level allowed to run pipelines on it. */
export interface RefProtection {
  protected: boolean;
  /** 0 means no one; 60 means instance administrators only; null when the ref is not protected. */
  requiredLevel: number | null;
}

/**
 * Whether `ref` of `refType` matches one of the project's protected patterns and, if so, the
 * lowest access level any matching pattern allows (GitLab: any matching rule that allows you is enough).
 */
export async function refProtection(
  db: Db,
  projectId: number,
  refType: 'branch' | 'tag',
  ref: string,
): Promise<RefProtection> {
  const patterns = await repositories(db).protection.listProtectedRefs(projectId, refType);
  const matching = patterns.filter((pattern) => refMatches(pattern.name, ref));
  if (matching.length === 0) return { protected: false, requiredLevel: null };
  const allowing = matching.map((pattern) => pattern.accessLevel).filter((level) => level > 0);
  return { protected: true, requiredLevel: allowing.length === 0 ? 0 : Math.min(...allowing) };
}

/**
 * Why `level` (with `isAdmin`) may not act on a protected ref, or null when it may: run pipelines
 * on it (the default `action`), or `cancel, retry, play or erase its jobs` and the like; GitLab
 * asks the same right (to push to the branch, or create the tag) for both. Admins pass every rule
 * except "no one".
 */
export function protectedRefRefusal(
  protection: RefProtection,
  refType: 'branch' | 'tag',
  ref: string,
  level: number | null,
  isAdmin: boolean,
  action = 'run pipelines on it',
): string | null {
  if (!protection.protected || protection.requiredLevel === null) return null;
  const required = protection.requiredLevel;
  if (required === 0) return `${refType} "${ref}" is protected and no one may ${action}`;
  if (isAdmin) return null;
  if (required === 60) return `${refType} "${ref}" is protected: only administrators may ${action}`;
  if ((level ?? 0) >= required) return null;
  const yours = roleName(level);
  return (
    `${refType} "${ref}" is protected: only the ${accessLevelDescription(required).replace(/s$/, '')} role or higher may ${action}, ` +
    `and you have ${yours ? `the ${yours} role` : 'no role'} on the project`
  );
}
