import { TesseraError } from '../errors.js';
import { ACCESS_LEVELS } from './access-level.js';
import type { Coordinator } from './coordinator.js';

/** A change to one membership of a group or a project, as {@link checkMemberChange} judges it. */
export interface MemberChange {
  sourceType: 'group' | 'project';
  sourceId: number;
  /** The group whose lineage gives inherited roles: the group itself, or the project's group. */
  groupId: number;
  /** The role of whoever makes the change on the source (admins count as owners). */
  actorLevel: number;
  /** The user whose membership changes. */
  userId: number;
  /** Their direct role on the source now, or null when they have none. */
  currentLevel: number | null;
  /** The role after the change, or null when the membership is removed. */
  newLevel: number | null;
}

/**
 * Applies GitLab's rules on owners to a membership change: only an owner grants the owner role,
 * or changes or removes an owner's membership (a maintainer manages everyone else); and a group or
 * project always keeps at least one owner, direct or inherited from a parent group, so that
 * someone can still manage it. Instance admins pass the first rule, not the second.
 *
 * @throws TesseraError `ERR_FORBIDDEN` saying which rule refused the change.
 */
export async function checkMemberChange(coordinator: Coordinator, change: MemberChange): Promise<void> {
  const { owner } = ACCESS_LEVELS;
  const touchesOwner = change.currentLevel === owner || change.newLevel === owner;
  if (touchesOwner && change.actorLevel < owner) {
    throw new TesseraError(
      'ERR_FORBIDDEN',
      change.newLevel === owner && change.currentLevel !== owner
        ? 'only an owner can grant the owner role'
        : `only an owner can change or remove an owner of the ${change.sourceType}`,
    );
  }
  if (change.currentLevel !== owner || change.newLevel === owner) return;
  const owners = new Set<number>();
  const direct = await coordinator.repos.members.list(change.sourceType, change.sourceId);
  for (const member of direct) {
    if (member.accessLevel === owner && member.userId !== change.userId) owners.add(member.userId);
  }
  const lineage = await coordinator.repos.groups.lineage(change.groupId);
  for (const group of lineage) {
    if (change.sourceType === 'group' && group.id === change.sourceId) continue;
    for (const member of await coordinator.repos.members.list('group', group.id)) {
      if (member.accessLevel === owner) owners.add(member.userId);
    }
  }
  if (owners.size === 0) {
    throw new TesseraError(
      'ERR_FORBIDDEN',
      `a ${change.sourceType} must keep at least one owner: make another member an owner first`,
    );
  }
}
