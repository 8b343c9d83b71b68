import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';
import { TesseraError } from '../errors.js';
import { initialMigration } from './migrations/0001-initial.js';
import { pipelineRefProtectedMigration } from './migrations/0002-pipeline-ref-protected.js';
import { pipelineApiVariablesMigration } from './migrations/0003-pipeline-api-variables.js';
import { jobTraceBytesMigration } from './migrations/0004-job-trace-bytes.js';
import { jobCoverageMigration } from './migrations/0005-job-coverage.js';
import { resourceGroupsMigration } from './migrations/0006-resource-groups.js';
import { releasesMigration } from './migrations/0007-releases.js';

/** Every migration, in order. Names never change once released; add new ones at the end. */
function migrations(dialect: 'sqlite' | 'postgres'): Record<string, Migration> {
  return {
    '0001-initial': initialMigration(dialect),
    '0002-pipeline-ref-protected': pipelineRefProtectedMigration,
    '0003-pipeline-api-variables': pipelineApiVariablesMigration,
    '0004-job-trace-bytes': jobTraceBytesMigration,
    '0005-job-coverage': jobCoverageMigration,
    '0006-resource-groups': resourceGroupsMigration(dialect),
    '0007-releases': releasesMigration(dialect),
  };
}

/**
 * Brings the schema up to date. Runs at every start-up; Kysely's migrator takes a lock so two
 * coordinators starting against one PostgreSQL database do not both migrate.
 *
 * @throws TesseraError `ERR_STORE_MIGRATION` naming the migration that failed.
 */
export async function migrateToLatest(
  db: Kysely<unknown>,
  dialect: 'sqlite' | 'postgres',
  schema?: string,
): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(dialect) };
  // With a schema of its own, the migrator must not mistake another schema's bookkeeping for ours.
  const migrator = new Migrator({ db, provider, ...(schema ? { migrationTableSchema: schema } : {}) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName ?? 'unknown';
    throw new TesseraError('ERR_STORE_MIGRATION', `database migration ${failed} failed`, { cause: error });
  }
}
