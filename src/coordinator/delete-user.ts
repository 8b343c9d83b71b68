import { TesseraError } from '../errors.js';
import type { Coordinator } from './coordinator.js';

/**
 * Deletes a user (`DELETE /users/:id`, admins only): their memberships and personal access tokens
 * go (so nothing they held works any more), the pipelines and jobs they started stay, without a
 * user, as GitLab keeps them under its ghost user. The audit of ID tokens is untouched. A user who
 * still owns pipeline triggers, schedules or a pull mirror is refused (GitLab would hand them to
 * nobody): their owner changes first (`POST …/take_ownership`) or they are deleted.
 *
 * @throws TesseraError `ERR_NOT_FOUND` for an unknown user, `ERR_CONFLICT` for one who owns any of those.
 */
export async function deleteUser(coordinator: Coordinator, userId: number): Promise<void> {
  await coordinator.store.transaction(async (tx) => {
    const user = await tx.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
    if (!user) throw new TesseraError('ERR_NOT_FOUND', `user ${userId} not found`);
    const owned = await Promise.all([
      tx
        .selectFrom('pipelineTriggers')
        .select('id')
        .where('ownerId', '=', userId)
        .limit(1)
        .executeTakeFirst(),
      tx
        .selectFrom('pipelineSchedules')
        .select('id')
        .where('ownerId', '=', userId)
        .limit(1)
        .executeTakeFirst(),
      tx
        .selectFrom('projectMirrors')
        .select('projectId')
        .where('userId', '=', userId)
        .limit(1)
        .executeTakeFirst(),
    ]);
    if (owned.some((row) => row !== undefined)) {
      throw new TesseraError(
        'ERR_CONFLICT',
        `user ${userId} owns pipeline triggers, schedules or a pull mirror: transfer or delete them first`,
      );
    }
    await tx.deleteFrom('members').where('userId', '=', userId).execute();
    await tx.deleteFrom('personalAccessTokens').where('userId', '=', userId).execute();
    await tx.deleteFrom('webSessions').where('userId', '=', userId).execute();
    await tx.deleteFrom('userPasswords').where('userId', '=', userId).execute();
    await tx.updateTable('pipelines').set({ userId: null }).where('userId', '=', userId).execute();
    await tx.updateTable('jobs').set({ userId: null }).where('userId', '=', userId).execute();
    await tx.deleteFrom('users').where('id', '=', userId).execute();
  });
}
