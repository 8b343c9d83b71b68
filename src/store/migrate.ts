import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';
import { TesseraError } from '../errors.js';
import { initialMigration } from './migrations/0001-initial.js';
import { pipelineRefProtectedMigration } from './migrations/0002-pipeline-ref-protected.js';
import { pipelineApiVariablesMigration } from './migrations/0003-pipeline-api-variables.js';
import { jobTraceBytesMigration } from './migrations/0004-job-trace-bytes.js';
import { caseInsensitivePathsMigration } from './migrations/0005-case-insensitive-paths.js';
import { runnerAccessLevelMigration } from './migrations/0006-runner-access-level.js';
import { userCanCreateGroupMigration } from './migrations/0007-user-can-create-group.js';
import { triggersMigration } from './migrations/0008-triggers.js';
import { webSessionsAndPasswordsMigration } from './migrations/0009-web-sessions-and-passwords.js';
import { jobArtifactsMigration } from './migrations/0010-job-artifacts.js';
import { jobCoverageMigration } from './migrations/0011-job-coverage.js';
import { resourceGroupsMigration } from './migrations/0012-resource-groups.js';
import { releasesMigration } from './migrations/0013-releases.js';
import { pathHistoryOutlivesProjectsMigration } from './migrations/0014-path-history-outlives-projects.js';
import { groupAndInstanceVariablesMigration } from './migrations/0015-group-and-instance-variables.js';
import { bridgeJobsMigration } from './migrations/0016-bridge-jobs.js';
import { deploymentsMigration } from './migrations/0017-deployments.js';
import { pipelineScheduleInputsMigration } from './migrations/0018-pipeline-schedule-inputs.js';
import { projectPublicJobsMigration } from './migrations/0019-project-public-jobs.js';
import { jobQueueMigration } from './migrations/0020-job-queue.js';
import { externalDeploymentsMigration } from './migrations/0021-external-deployments.js';

/** Every migration, in order. Names never change once released; add new ones at the end. */
function migrations(dialect: 'sqlite' | 'postgres'): Record<string, Migration> {
  return {
    '0001-initial': initialMigration(dialect),
    '0002-pipeline-ref-protected': pipelineRefProtectedMigration,
    '0003-pipeline-api-variables': pipelineApiVariablesMigration,
    '0004-job-trace-bytes': jobTraceBytesMigration,
    '0005-case-insensitive-paths': caseInsensitivePathsMigration,
    '0006-runner-access-level': runnerAccessLevelMigration,
    '0007-user-can-create-group': userCanCreateGroupMigration,
    '0008-triggers': triggersMigration(dialect),
    '0009-web-sessions-and-passwords': webSessionsAndPasswordsMigration,
    '0010-job-artifacts': jobArtifactsMigration(dialect),
    '0011-job-coverage': jobCoverageMigration,
    '0012-resource-groups': resourceGroupsMigration(dialect),
    '0013-releases': releasesMigration(dialect),
    '0014-path-history-outlives-projects': pathHistoryOutlivesProjectsMigration(dialect),
    '0015-group-and-instance-variables': groupAndInstanceVariablesMigration(dialect),
    '0016-bridge-jobs': bridgeJobsMigration,
    '0017-deployments': deploymentsMigration(dialect),
    '0018-pipeline-schedule-inputs': pipelineScheduleInputsMigration,
    '0019-project-public-jobs': projectPublicJobsMigration,
    '0020-job-queue': jobQueueMigration(dialect),
    '0021-external-deployments': externalDeploymentsMigration(dialect),
  };
}

/**
 * Brings the schema up to date (or only up to the migration named `last`: a test of a migration
 * starts from the store as it was before it). Runs at every start-up; Kysely's migrator takes a
 * lock so two coordinators starting against one PostgreSQL database do not both migrate.
 *
 * @throws TesseraError `ERR_STORE_MIGRATION` naming the migration that failed.
 */
export async function migrateToLatest(
  db: Kysely<unknown>,
  dialect: 'sqlite' | 'postgres',
  schema?: string,
  last?: string,
): Promise<void> {
  const all = Object.entries(migrations(dialect));
  const upTo = last === undefined ? all.length : all.findIndex(([name]) => name === last) + 1;
  if (upTo === 0) throw new TypeError(`no migration named ${last}`);
  const provider: MigrationProvider = { getMigrations: async () => Object.fromEntries(all.slice(0, upTo)) };
  // With a schema of its own, the migrator must not mistake another schema's bookkeeping for ours.
  const migrator = new Migrator({ db, provider, ...(schema ? { migrationTableSchema: schema } : {}) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName;
    // The database's own message (never carries the connection URL or its password).
    const reason = error instanceof Error && error.message !== '' ? `: ${error.message.slice(0, 300)}` : '';
    throw new TesseraError(
      'ERR_STORE_MIGRATION',
      failed === undefined
        ? `the database schema could not be brought up to date${reason}`
        : `database migration ${failed} failed${reason}`,
      { cause: error },
    );
  }
}
