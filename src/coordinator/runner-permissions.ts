import type { RunnerRecord } from '../store/repositories/runners.js';
import type { UserRecord } from '../store/repositories/users.js';
import { ACCESS_LEVELS } from './access-level.js';
import type { Coordinator } from './coordinator.js';
import { groupAccessLevel, projectAccessLevel } from './permissions.js';

/**
 * Whether `user` owns `runner` in GitLab's sense (may see, change, pause and delete it, and finds
 * it in `GET /runners`): an administrator any runner, the project's Maintainers and Owners a
 * project runner, the group's Owners (inherited down the tree) a group runner. Instance runners
 * belong to administrators alone.
 */
export async function ownsRunner(
  coordinator: Coordinator,
  user: UserRecord,
  runner: RunnerRecord,
): Promise<boolean> {
  if (user.isAdmin) return true;
  if (runner.runnerType === 'project_type' && runner.projectId !== null) {
    const project = await coordinator.repos.projects.findById(runner.projectId);
    return (
      project !== undefined &&
      ((await projectAccessLevel(coordinator, user.id, project)) ?? 0) >= ACCESS_LEVELS.maintainer
    );
  }
  if (runner.runnerType === 'group_type' && runner.groupId !== null) {
    return ((await groupAccessLevel(coordinator, user.id, runner.groupId)) ?? 0) >= ACCESS_LEVELS.owner;
  }
  return false;
}
