import { deleteArtifactBytes } from '../artifacts/expire-artifacts.js';
import type { Coordinator } from './coordinator.js';
import { deleteProjectIn } from './delete-project.js';

/**
 * Deletes a group with its subgroups and their projects (each as {@link deleteProjectIn}), their
 * memberships, group runners and variables, as GitLab does; deepest groups first. The groups' paths are
 * free again; the projects' paths stay burned.
 */
export async function deleteGroup(coordinator: Coordinator, groupId: number): Promise<void> {
  const artifactKeys: string[] = [];
  await coordinator.store.transaction(async (tx) => {
    const root = await tx.selectFrom('groups').selectAll().where('id', '=', groupId).executeTakeFirst();
    if (!root) return;
    const groups = await tx.selectFrom('groups').select(['id', 'fullPath']).execute();
    const doomed = groups
      .filter((group) => group.id === root.id || group.fullPath.startsWith(`${root.fullPath}/`))
      .sort((a, b) => b.fullPath.split('/').length - a.fullPath.split('/').length);
    for (const group of doomed) {
      const projects = await tx
        .selectFrom('projects')
        .select('id')
        .where('namespaceId', '=', group.id)
        .execute();
      for (const project of projects) artifactKeys.push(...(await deleteProjectIn(tx, project.id)));
      const runnerIds = tx.selectFrom('runners').select('id').where('groupId', '=', group.id);
      await tx.updateTable('jobs').set({ runnerId: null }).where('runnerId', 'in', runnerIds).execute();
      await tx.deleteFrom('runners').where('groupId', '=', group.id).execute();
      await tx
        .deleteFrom('members')
        .where('sourceType', '=', 'group')
        .where('sourceId', '=', group.id)
        .execute();
      await tx
        .deleteFrom('ciVariables')
        .where('ownerType', '=', 'group')
        .where('ownerId', '=', group.id)
        .execute();
      await tx.deleteFrom('groups').where('id', '=', group.id).execute();
    }
  });
  await deleteArtifactBytes(coordinator, artifactKeys);
}
