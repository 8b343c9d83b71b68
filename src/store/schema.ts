import type { ColumnType, Generated } from 'kysely';

/**
 * The tables of the coordinator's store, as Kysely sees them. Column names are camelCase here and
 * snake_case in SQL (Kysely's CamelCasePlugin translates). Times are Unix milliseconds (BIGINT on
 * PostgreSQL), flags are 0/1 integers and lists or objects are JSON text, so that both dialects
 * store the same values the same way.
 */
export interface Database {
  users: UsersTable;
  personalAccessTokens: PersonalAccessTokensTable;
  groups: GroupsTable;
  projects: ProjectsTable;
  projectPathHistory: ProjectPathHistoryTable;
  members: MembersTable;
  protectedRefs: ProtectedRefsTable;
  environments: EnvironmentsTable;
  protectedEnvironments: ProtectedEnvironmentsTable;
  projectVariables: ProjectVariablesTable;
  runners: RunnersTable;
  pipelines: PipelinesTable;
  jobs: JobsTable;
  pendingJobs: PendingJobsTable;
  runningJobs: RunningJobsTable;
  jobTraces: JobTracesTable;
  jobArtifacts: JobArtifactsTable;
  signingKeys: SigningKeysTable;
  issuedTokens: IssuedTokensTable;
  pipelineTriggers: PipelineTriggersTable;
  pipelineSchedules: PipelineSchedulesTable;
  pipelineScheduleVariables: PipelineScheduleVariablesTable;
  pipelineScheduleRuns: PipelineScheduleRunsTable;
  projectMirrors: ProjectMirrorsTable;
  userPasswords: UserPasswordsTable;
  webSessions: WebSessionsTable;
  jobCoverage: JobCoverageTable;
  resourceGroups: ResourceGroupsTable;
  jobResourceGroups: JobResourceGroupsTable;
  releases: ReleasesTable;
  ciVariables: CiVariablesTable;
  deployments: DeploymentsTable;
}

/** Group and instance CI/CD variables (`owner_type` `group` with the group's id, or `instance` with 0). */
export interface CiVariablesTable extends Omit<ProjectVariablesTable, 'projectId'> {
  ownerType: 'group' | 'instance';
  ownerId: number;
}

/** `users`. */
export interface UsersTable {
  id: Generated<number>;
  username: string;
  email: string;
  name: string;
  isAdmin: number;
  state: string;
  createdAt: number;
  /** 1 when the user may create top-level groups. */
  canCreateGroup: Generated<number>;
}

/** `personal_access_tokens`: only the SHA-256 of each token is kept. */
export interface PersonalAccessTokensTable {
  id: Generated<number>;
  userId: number;
  name: string;
  /** JSON array of scope names. */
  scopes: string;
  tokenHash: string;
  revoked: number;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
}

/** `groups`: a tree through `parent_id`; `full_path` is `parent/child`. */
export interface GroupsTable {
  id: Generated<number>;
  name: string;
  path: string;
  fullPath: string;
  parentId: number | null;
  visibility: string;
  createdAt: number;
}

/** `projects`. */
export interface ProjectsTable {
  id: Generated<number>;
  name: string;
  path: string;
  namespaceId: number;
  pathWithNamespace: string;
  visibility: string;
  repositoryUrl: string;
  defaultBranch: string;
  ciConfigPath: string;
  /** JSON array, GitLab's `ci_id_token_sub_claim_components`. */
  subClaimComponents: string;
  /** JSON array of audiences on-demand requests may name, or null for any. */
  allowedAudiences: string | null;
  /** Upper bound (seconds) on this project's token lifetimes, or null for the instance maximum. */
  tokenMaxLifetime: number | null;
  /** Default job timeout (seconds) for this project, or null for the instance default. */
  jobTimeout: number | null;
  /** GitLab's `max_artifacts_size` (MB) for this project, or null for the instance's. */
  maxArtifactsSize: Generated<number | null>;
  /** GitLab's `public_jobs` as 1 or 0: whether people below the Reporter role read the jobs. */
  publicJobs: Generated<number>;
  createdAt: number;
  updatedAt: number;
}

/** Every full path a project has ever had (DESIGN 3.3, the burned-path guard). */
export interface ProjectPathHistoryTable {
  id: Generated<number>;
  path: string;
  projectId: number;
  createdAt: number;
}

/** `members`: a role on a group or a project. */
export interface MembersTable {
  id: Generated<number>;
  sourceType: 'group' | 'project';
  sourceId: number;
  userId: number;
  accessLevel: number;
  createdAt: number;
}

/** Protected branch or tag patterns of a project. */
export interface ProtectedRefsTable {
  id: Generated<number>;
  projectId: number;
  refType: 'branch' | 'tag';
  name: string;
  /** Lowest role that may run pipelines on matching refs (push/create access level). */
  accessLevel: number;
  createdAt: number;
}

/** `environments`. */
export interface EnvironmentsTable {
  id: Generated<number>;
  projectId: number;
  name: string;
  externalUrl: string | null;
  tier: string;
  /** `available`, `stopping` (its stop jobs run) or `stopped`. */
  state: string;
  createdAt: number;
  /** When the auto-stop sweep stops it (`auto_stop_in` of the last successful deployment); null: never. */
  autoStopAt: Generated<number | null>;
  /** The last change of the environment itself (state, URL, tier); null only before it is written. */
  updatedAt: Generated<number | null>;
}

/** Protected environments (by name). */
export interface ProtectedEnvironmentsTable {
  id: Generated<number>;
  projectId: number;
  name: string;
  accessLevel: number;
  createdAt: number;
}

/** Project CI/CD variables. */
export interface ProjectVariablesTable {
  id: Generated<number>;
  projectId: number;
  key: string;
  value: string;
  variableType: string;
  protected: number;
  masked: number;
  raw: number;
  environmentScope: string;
  createdAt: number;
}

/** Runners; only the SHA-256 of the token is kept. */
export interface RunnersTable {
  id: Generated<number>;
  runnerType: 'instance_type' | 'group_type' | 'project_type';
  groupId: number | null;
  projectId: number | null;
  description: string;
  /** JSON array of tags. */
  tagList: string;
  runUntagged: number;
  paused: number;
  /** `not_protected` or `ref_protected`. */
  accessLevel: Generated<string>;
  tokenHash: string;
  maximumTimeout: number | null;
  createdAt: number;
  contactedAt: number | null;
}

/** `pipelines`. */
export interface PipelinesTable {
  id: Generated<number>;
  iid: number;
  projectId: number;
  sha: string;
  ref: string;
  refType: 'branch' | 'tag';
  /** 1 when the ref matched a protected pattern at creation. */
  refProtected: Generated<number>;
  source: string;
  status: string;
  userId: number | null;
  ciConfigPath: string;
  ciConfigSha: string;
  /** JSON object: the pipeline-level variables after `planPipeline` (YAML and workflow rule). */
  variables: string;
  /** JSON object: the variables given when the pipeline was created through the API. */
  apiVariables: Generated<string>;
  /** `CI_COMMIT_BEFORE_SHA`: the ref's commit before the push that started a push pipeline, else zeros. */
  beforeSha: Generated<string>;
  /** JSON array of warnings from loading the config. */
  warnings: string;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** The bridge (`trigger:`) job that created this pipeline (a child or multi-project pipeline), else null. */
  sourceJobId: Generated<number | null>;
}

/** `jobs`. */
/**
 * The pending jobs as a claim matches them (a copy of those columns of `jobs`, kept by triggers
 * on `jobs`: never written by the coordinator itself).
 */
export interface PendingJobsTable {
  jobId: number;
  projectId: number;
  pipelineId: number;
  /** JSON array, as in `jobs.tags`. */
  tags: string;
  bridge: number;
}

/** The running jobs' projects, for fair usage (kept by triggers on `jobs`, as {@link PendingJobsTable}). */
export interface RunningJobsTable {
  jobId: number;
  projectId: number;
}

export interface JobsTable {
  id: Generated<number>;
  pipelineId: number;
  projectId: number;
  name: string;
  stage: string;
  stageIndex: number;
  status: string;
  whenCondition: string;
  allowFailure: number;
  /** JSON: the planned job (scripts, variables, id_tokens, secrets, environment…). */
  spec: string;
  /** JSON array of job names, or null when the job has no `needs` (stage order applies). */
  needs: string | null;
  /** JSON array of tags. */
  tags: string;
  environmentName: string | null;
  /** 0 for the first run, counting retries. */
  attempt: number;
  /** 1 when a newer attempt of this job replaced it. */
  retried: number;
  userId: number | null;
  runnerId: number | null;
  tokenHash: string | null;
  requestTokenHash: string | null;
  timeoutSeconds: number;
  failureReason: string | null;
  exitCode: number | null;
  createdAt: number;
  queuedAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  leaseExpiresAt: number | null;
  /** 1 for a bridge (`trigger:`) job, which the coordinator runs and no runner claims. */
  bridge: Generated<number>;
}

/** Job logs, one row per job, appended to. */
export interface JobTracesTable {
  jobId: number;
  content: string;
  /** Bytes received so far (what `Content-Range` offsets count). */
  bytes: Generated<number>;
  /** Hex of the first bytes of a UTF-8 character whose rest has not arrived yet. */
  pending: Generated<string>;
}

/** `job_artifacts`: one row per file a job uploaded (its bytes live in the artifact store). */
export interface JobArtifactsTable {
  id: Generated<number>;
  jobId: number;
  projectId: number;
  /** GitLab's `artifact_type`: `archive`, `metadata`, or a report type (`junit`, `dotenv`, …). */
  fileType: string;
  /** GitLab's `artifact_format`: `zip`, `gzip` or `raw`. */
  fileFormat: string;
  fileName: string;
  size: number;
  sha256: string;
  /** Where the bytes live in the artifact store. */
  storeKey: string;
  /** JSON object of the variables of a `dotenv` report. */
  variables: string | null;
  /** Milliseconds; `null`: kept until deleted. */
  expireAt: number | null;
  createdAt: number;
}

/** Signing keys (see `SigningKeyRecord`). */
export interface SigningKeysTable {
  kid: string;
  alg: string;
  state: string;
  publicJwk: string;
  encryptedPrivateKey: string;
  createdAt: number;
  activatedAt: number | null;
  deactivatedAt: number | null;
  retireAfter: number | null;
  revokedAt: number | null;
}

/** The audit of issued ID tokens (never the token itself). */
export interface IssuedTokensTable {
  jti: string;
  projectId: number;
  pipelineId: number;
  jobId: number;
  /** JSON array of audiences. */
  aud: string;
  sub: string;
  kid: string;
  alg: string;
  iat: number;
  exp: number;
  issuedVia: string;
}

/** Pipeline trigger tokens; only the SHA-256 of each token is kept, and its first characters. */
export interface PipelineTriggersTable {
  id: Generated<number>;
  projectId: number;
  /** The user the triggered pipelines run as. */
  ownerId: number;
  description: string;
  tokenHash: string;
  /** The first four characters after the `glptt-` prefix (what non-owners are shown). */
  tokenStart: string;
  createdAt: number;
  updatedAt: number;
  lastUsedAt: number | null;
}

/** Pipeline schedules. */
export interface PipelineSchedulesTable {
  id: Generated<number>;
  projectId: number;
  /** The user the scheduled pipelines run as. */
  ownerId: number;
  description: string;
  ref: string;
  cron: string;
  cronTimezone: string;
  active: number;
  /** When the schedule fires next; the compare-and-set value of the claim that fires it. */
  nextRunAt: number;
  createdAt: number;
  updatedAt: number;
  /** Its pipeline inputs, a JSON object of name → value; `NULL` for none. */
  inputs: string | null;
}

/** Variables of a pipeline schedule. */
export interface PipelineScheduleVariablesTable {
  id: Generated<number>;
  scheduleId: number;
  key: string;
  value: string;
  variableType: string;
}

/** Which pipelines a schedule started. */
export interface PipelineScheduleRunsTable {
  scheduleId: number;
  pipelineId: number;
}

/** Pull-mirroring state of a project (one row per project that ever had mirroring set). */
export interface ProjectMirrorsTable {
  projectId: number;
  enabled: number;
  triggerBuilds: number;
  /** The user mirror pipelines run as. */
  userId: number;
  onlyProtectedBranches: number;
  overwritesDivergedBranches: number;
  /** The webhook secret sealed with the key-encryption key, or null. */
  webhookSecret: string | null;
  /** JSON object `{ "refs/heads/main": sha, … }` last seen on the repository; null before the first look. */
  knownRefs: string | null;
  nextCheckAt: number;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  lastUpdateAt: number | null;
  lastSuccessfulUpdateAt: number | null;
  lastError: string | null;
}

/** `user_passwords`: the scrypt hash of a user's web password (see `src/coordinator/password.ts`). */
export interface UserPasswordsTable {
  userId: number;
  passwordHash: string;
  updatedAt: number;
}

/** `web_sessions`: a signed-in browser, keyed by the SHA-256 of its cookie value. */
export interface WebSessionsTable {
  sessionHash: string;
  userId: number;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
}

/** `job_coverage`: the coverage (a percentage) a job's `coverage:` pattern found in its log. */
export interface JobCoverageTable {
  jobId: number;
  coverage: number;
}

/** `resource_groups`: GitLab's resource groups of a project. */
export interface ResourceGroupsTable {
  id: Generated<number>;
  projectId: number;
  key: string;
  /** `unordered`, `oldest_first` or `newest_first`. */
  processMode: string;
  createdAt: number;
  updatedAt: number;
}

/** `job_resource_groups`: the resource group of each job that has one. */
export interface JobResourceGroupsTable {
  jobId: number;
  resourceGroupId: number;
}

/** `releases`: what jobs with `release:` recorded. */
export interface ReleasesTable {
  id: Generated<number>;
  projectId: number;
  tagName: string;
  name: string;
  description: string;
  /** The commit the release points at. */
  sha: string;
  jobId: number;
  userId: number | null;
  /** JSON array of `{ name, url, link_type, direct_asset_path }`. */
  links: string;
  /** JSON array of milestone titles. */
  milestones: string;
  releasedAt: number;
  createdAt: number;
}

/**
 * `deployments`: one per run (attempt) of a job with `environment: { action: start }`, whose status
 * is not stored (it is the job's, read through `job_id`: GitLab syncs its deployment with the job),
 * or one made through the API by an external tool, without a job, which keeps its own status, user,
 * finish and update times. A CHECK keeps `status` set exactly when `job_id` is null.
 */
export interface DeploymentsTable {
  id: Generated<number>;
  /** Per-project number, as GitLab's deployment `iid`. */
  iid: number;
  projectId: number;
  environmentId: number;
  /** The deploying job; null for a deployment made through the API. */
  jobId: number | null;
  ref: string;
  sha: string;
  createdAt: number;
  /** A job-less deployment's status (`created`, `running`, `success`, `failed`, `canceled`); null for a job's. */
  status: ColumnType<string | null, string | null | undefined, string | null>;
  /** Who made a job-less deployment; null for a job's (its job's user is the deployer). */
  userId: ColumnType<number | null, number | null | undefined, number | null>;
  /** Whether a job-less deployment's `ref` is a tag (1) or a branch (0); null for a job's. */
  tag: ColumnType<number | null, number | null | undefined, number | null>;
  /** When a job-less deployment reached success, failed or canceled; null for a job's. */
  finishedAt: ColumnType<number | null, number | null | undefined, number | null>;
  /** The last status change of a job-less deployment; null for a job's. */
  updatedAt: ColumnType<number | null, number | null | undefined, number | null>;
}
