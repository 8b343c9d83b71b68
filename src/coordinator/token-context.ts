import { TesseraError } from '../errors.js';
import type { PlannedJob } from '../pipeline/plan.js';
import type { GroupRecord } from '../store/repositories/groups.js';
import type { JobRecord } from '../store/repositories/jobs.js';
import type { PipelineRecord } from '../store/repositories/pipelines.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';
import type { JobTokenContext } from '../token/job-token-context.js';
import { roleName } from './access-level.js';
import type { Coordinator } from './coordinator.js';
import type { StoredVariables } from './create-pipeline.js';
import { guessTier } from './deployment-tier.js';
import { projectAccessLevel } from './permissions.js';

/** The records a job's token context is made from. */
export interface JobRecords {
  job: JobRecord<PlannedJob>;
  pipeline: PipelineRecord;
  project: ProjectRecord;
  /**
   * The job's user (null: it has none) and its project's group lineage (the group first, then its
   * ancestors), once read: building a payload needs them for the variables and for the ID
   * token's claims, and read them once each instead of two or three times.
   */
  user?: UserRecord | null;
  lineage?: GroupRecord[];
  /** The user's role on the project and whether another project held its path, once read. */
  accessLevel?: number | null;
  pathReused?: boolean;
  /** The CI/CD variables the job may get, when read with the claim. */
  variables?: StoredVariables;
}

/** Loads the pipeline and project of `job` (unless the caller has just read them). */
export async function loadJobRecords(
  coordinator: Coordinator,
  job: JobRecord<PlannedJob>,
  knownPipeline?: PipelineRecord,
  knownProject?: ProjectRecord,
): Promise<JobRecords> {
  const pipeline = knownPipeline ?? (await coordinator.repos.pipelines.findById(job.pipelineId));
  const project = knownProject ?? (await coordinator.repos.projects.findById(job.projectId));
  if (!pipeline || !project)
    throw new TesseraError('ERR_NOT_FOUND', `job ${job.id} has no pipeline or project`);
  return { job, pipeline, project };
}

/**
 * Builds the {@link JobTokenContext} of a running job from the coordinator's records only: the
 * project and its group, the pipeline (ref, whether it was protected at creation, source, sha),
 * the user who started the pipeline (or played the job) and their role now, the environment and
 * whether it is protected, the runner. Nothing a job or runner sent goes in.
 */
export async function buildTokenContext(
  coordinator: Coordinator,
  records: JobRecords,
): Promise<JobTokenContext> {
  const { job, pipeline, project } = records;
  const repos = coordinator.repos;
  const lineage = records.lineage ?? (await repos.groups.lineage(project.namespaceId));
  const group = lineage[0];
  if (!group) throw new TesseraError('ERR_NOT_FOUND', `project ${project.id} has no group`);
  if (job.runnerId === null) throw new TypeError('buildTokenContext: the job has no runner');
  const user =
    records.user !== undefined
      ? (records.user ?? undefined)
      : job.userId === null
        ? undefined
        : await repos.users.findById(job.userId);
  const level =
    records.accessLevel !== undefined
      ? records.accessLevel
      : user
        ? await projectAccessLevel(coordinator, user.id, project, lineage)
        : null;
  let environment: JobTokenContext['environment'] = null;
  const spec = job.spec.environment;
  if (spec) {
    const stored = await repos.protection.findEnvironment(project.id, spec.name);
    const protectedEnvironment = await repos.protection.findProtectedEnvironment(project.id, spec.name);
    environment = {
      name: spec.name,
      protected: protectedEnvironment !== undefined,
      tier: spec.deploymentTier ?? stored?.tier ?? guessTier(spec.name),
      action: spec.action,
    };
  }
  const host = new URL(coordinator.urls.serverUrl).host;
  const refPath = `refs/${pipeline.refType === 'tag' ? 'tags' : 'heads'}/${pipeline.ref}`;
  return {
    namespace: { id: group.id, fullPath: group.fullPath },
    project: {
      id: project.id,
      path: project.pathWithNamespace,
      visibility: project.visibility as 'private' | 'internal' | 'public',
      subClaimComponents: project.subClaimComponents,
      pathReused:
        records.pathReused ?? (await repos.projects.pathHeldByAnother(project.id, project.pathWithNamespace)),
    },
    user: user
      ? { id: user.id, username: user.username, email: user.email, accessLevel: roleName(level) }
      : null,
    pipeline: { id: pipeline.id, source: pipeline.source },
    job: { id: job.id },
    ref: { name: pipeline.ref, type: pipeline.refType, protected: pipeline.refProtected },
    environment,
    runner: { id: job.runnerId, environment: 'self-hosted' },
    sha: pipeline.sha,
    ciConfigRefUri: `${host}/${project.pathWithNamespace}//${pipeline.ciConfigPath}@${refPath}`,
    ciConfigSha: pipeline.ciConfigSha,
  };
}

/**
 * The lifetime cap of a project's tokens: the instance maximum, lowered by the project's own cap.
 */
export function lifetimeCap(coordinator: Coordinator, project: ProjectRecord): number {
  const instance = coordinator.config.tokenMaxLifetime;
  return project.tokenMaxLifetime === null ? instance : Math.min(instance, project.tokenMaxLifetime);
}
