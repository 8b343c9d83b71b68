import type { Db } from './open-store.js';
import { CiVariableRepository } from './repositories/ci-variables.js';
import { GroupRepository } from './repositories/groups.js';
import { SqlIssuedTokenRepository } from './repositories/issued-tokens.js';
import { JobArtifactRepository } from './repositories/job-artifacts.js';
import { JobRepository } from './repositories/jobs.js';
import { MemberRepository } from './repositories/members.js';
import { PipelineScheduleRepository } from './repositories/pipeline-schedules.js';
import { PipelineTriggerRepository } from './repositories/pipeline-triggers.js';
import { PipelineRepository } from './repositories/pipelines.js';
import { ProjectMirrorRepository } from './repositories/project-mirrors.js';
import { ProjectRepository } from './repositories/projects.js';
import { ProtectionRepository } from './repositories/protection.js';
import { RunnerRepository } from './repositories/runners.js';
import { SqlSigningKeyRepository } from './repositories/signing-keys.js';
import { UserRepository } from './repositories/users.js';
import { VariableRepository } from './repositories/variables.js';

/** Every typed repository, bound to one handle (the store, or a transaction on it). */
export interface Repositories {
  users: UserRepository;
  groups: GroupRepository;
  projects: ProjectRepository;
  members: MemberRepository;
  protection: ProtectionRepository;
  variables: VariableRepository;
  runners: RunnerRepository;
  pipelines: PipelineRepository;
  jobs: JobRepository;
  signingKeys: SqlSigningKeyRepository;
  issuedTokens: SqlIssuedTokenRepository;
  pipelineTriggers: PipelineTriggerRepository;
  pipelineSchedules: PipelineScheduleRepository;
  projectMirrors: ProjectMirrorRepository;
  jobArtifacts: JobArtifactRepository;
  ciVariables: CiVariableRepository;
}

/**
 * Binds the repositories to `db`.
 *
 * @example
 * ```ts
 * await store.transaction(async (tx) => repositories(tx).jobs.update(id, { status: 'canceled' }));
 * ```
 */
export function repositories(db: Db): Repositories {
  return {
    users: new UserRepository(db),
    groups: new GroupRepository(db),
    projects: new ProjectRepository(db),
    members: new MemberRepository(db),
    protection: new ProtectionRepository(db),
    variables: new VariableRepository(db),
    runners: new RunnerRepository(db),
    pipelines: new PipelineRepository(db),
    jobs: new JobRepository(db),
    signingKeys: new SqlSigningKeyRepository(db),
    issuedTokens: new SqlIssuedTokenRepository(db),
    pipelineTriggers: new PipelineTriggerRepository(db),
    pipelineSchedules: new PipelineScheduleRepository(db),
    projectMirrors: new ProjectMirrorRepository(db),
    jobArtifacts: new JobArtifactRepository(db),
    ciVariables: new CiVariableRepository(db),
  };
}
