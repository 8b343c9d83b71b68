import { TesseraError } from '../errors.js';
import type { GroupRecord } from '../store/repositories/groups.js';
import type { UserRecord } from '../store/repositories/users.js';
import { repositories } from '../store/repositories.js';
import { isUniqueViolation } from '../store/unique-violation.js';
import { ACCESS_LEVELS } from './access-level.js';
import type { Coordinator } from './coordinator.js';
import { checkDisplayName } from './display-name.js';

/** What a new group is made of; `parent` makes it a subgroup. */
export interface NewGroup {
  readonly name: string;
  readonly path: string;
  readonly parent?: GroupRecord;
  readonly visibility?: string;
}

/**
 * Creates a group (`POST /groups`, and `tessera run`'s group `local`). The creator owns a new
 * top-level group, as in GitLab; in a subgroup they already inherit a role.
 *
 * @throws TesseraError `ERR_CONFLICT` when the full path is taken (in any case), `ERR_VALIDATION` for a name with
 *   control or bidirectional formatting characters.
 */
export async function createGroup(
  coordinator: Coordinator,
  creator: UserRecord,
  input: NewGroup,
): Promise<GroupRecord> {
  checkDisplayName(input.name, 'name');
  const fullPath = input.parent ? `${input.parent.fullPath}/${input.path}` : input.path;
  const now = coordinator.clock();
  try {
    return await coordinator.store.transaction(async (tx) => {
      const repos = repositories(tx);
      const created = await repos.groups.create({
        name: input.name,
        path: input.path,
        fullPath,
        parentId: input.parent?.id ?? null,
        visibility: input.visibility ?? 'private',
        createdAt: now,
      });
      if (!input.parent) {
        await repos.members.upsert({
          sourceType: 'group',
          sourceId: created.id,
          userId: creator.id,
          accessLevel: ACCESS_LEVELS.owner,
          createdAt: now,
        });
      }
      return created;
    });
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new TesseraError(
        'ERR_CONFLICT',
        `path has already been taken: a group is at "${fullPath}" (paths are unique regardless of case)`,
        { details: { field: 'path' } },
      );
    }
    throw error;
  }
}
