import type { SelectQueryBuilder, Transaction } from 'kysely';
import type { Database } from '../store/schema.js';

/**
 * Deletes a project inside `tx` with everything GitLab deletes alongside: its pipelines, jobs and
 * their logs, variables, protected branches, tags and environments, environments and their deployments, memberships,
 * project runners, pipeline triggers, schedules and pull-mirror state, resource groups, releases
 * and the jobs' artifacts (their rows here; the caller deletes their bytes from the artifact store
 * once the transaction is committed, with the keys this answers). Two things stay: the audit
 * of the ID tokens its jobs were issued (`issued_tokens`), and the paths it ever had
 * (`project_path_history`), so a new project at one of them is refused `project_path` subjects
 * (DESIGN 3.3: a path once trusted is burned).
 */
export async function deleteProjectIn(tx: Transaction<Database>, projectId: number): Promise<string[]> {
  const jobIds = tx.selectFrom('jobs').select('id').where('projectId', '=', projectId);
  const artifactKeys = await artifactKeysOf(tx, jobIds);
  await tx.deleteFrom('jobTraces').where('jobId', 'in', jobIds).execute();
  const runnerIds = tx.selectFrom('runners').select('id').where('projectId', '=', projectId);
  await tx.updateTable('jobs').set({ runnerId: null }).where('runnerId', 'in', runnerIds).execute();
  await tx.deleteFrom('jobs').where('projectId', '=', projectId).execute();
  const scheduleIds = tx.selectFrom('pipelineSchedules').select('id').where('projectId', '=', projectId);
  await tx.deleteFrom('pipelineScheduleRuns').where('scheduleId', 'in', scheduleIds).execute();
  await tx.deleteFrom('pipelineScheduleVariables').where('scheduleId', 'in', scheduleIds).execute();
  await tx.deleteFrom('pipelineSchedules').where('projectId', '=', projectId).execute();
  await tx.deleteFrom('pipelineTriggers').where('projectId', '=', projectId).execute();
  await tx.deleteFrom('projectMirrors').where('projectId', '=', projectId).execute();
  await tx.deleteFrom('pipelines').where('projectId', '=', projectId).execute();
  await tx.deleteFrom('projectVariables').where('projectId', '=', projectId).execute();
  await tx.deleteFrom('protectedRefs').where('projectId', '=', projectId).execute();
  await tx.deleteFrom('protectedEnvironments').where('projectId', '=', projectId).execute();
  await tx.deleteFrom('deployments').where('projectId', '=', projectId).execute();
  await tx.deleteFrom('environments').where('projectId', '=', projectId).execute();
  await tx
    .deleteFrom('members')
    .where('sourceType', '=', 'project')
    .where('sourceId', '=', projectId)
    .execute();
  await tx.deleteFrom('runners').where('projectId', '=', projectId).execute();
  await tx.deleteFrom('resourceGroups').where('projectId', '=', projectId).execute();
  await tx.deleteFrom('releases').where('projectId', '=', projectId).execute();
  await tx.deleteFrom('projects').where('id', '=', projectId).execute();
  return artifactKeys;
}

/**
 * The artifact store keys of the files of `jobIds` (their rows go with the jobs); a file the
 * sweeper already removed has none.
 */
export async function artifactKeysOf(
  tx: Transaction<Database>,
  jobIds: SelectQueryBuilder<Database, 'jobs', { id: number }>,
): Promise<string[]> {
  const rows = await tx.selectFrom('jobArtifacts').select('storeKey').where('jobId', 'in', jobIds).execute();
  return rows.map((row) => row.storeKey).filter((key) => key !== '');
}
