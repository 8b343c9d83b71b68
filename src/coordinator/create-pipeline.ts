import { isTesseraError, TesseraError } from '../errors.js';
import type { ConfigProblem } from '../pipeline/config-problem.js';
import {
  ENVIRONMENT_NAME_RULE,
  environmentSlug,
  expandEnvironmentName,
  isEnvironmentName,
} from '../pipeline/environment-name.js';
import { loadPipeline, pipelineInvalid } from '../pipeline/load.js';
import type { PipelineInputValues } from '../pipeline/pipeline-inputs.js';
import { type PipelinePlan, planPipelineReading } from '../pipeline/plan.js';
import {
  expandResourceGroupKey,
  isResourceGroupKey,
  RESOURCE_GROUP_KEY_RULE,
} from '../pipeline/resource-group-key.js';
import { buildRuleVariables, type PipelineSource } from '../pipeline/rule-variables.js';
import { nextProjectIid } from '../store/next-project-iid.js';
import type { Db } from '../store/open-store.js';
import type { CiVariableRecord } from '../store/repositories/ci-variables.js';
import type { GroupRecord } from '../store/repositories/groups.js';
import type { PipelineRecord } from '../store/repositories/pipelines.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';
import type { VariableRecord } from '../store/repositories/variables.js';
import { type Repositories, repositories } from '../store/repositories.js';
import { ACCESS_LEVELS, accessLevelDescription } from './access-level.js';
import { advancePipeline } from './advance-pipeline.js';
import { cancelRedundantPipelines } from './cancel-redundant-pipelines.js';
import type { Coordinator } from './coordinator.js';
import { guessTier } from './deployment-tier.js';
import { createRemoteIncludeFetcher } from './fetch-remote-include.js';
import { GitRepositoryReader, type ResolvedRef } from './git-repository.js';
import { includeSourcesFor } from './include-sources.js';
import { projectAccessLevel } from './permissions.js';
import { isMeantAsPipeline } from './pipeline-config-shape.js';
import { changedPathsOf, planFilesFor, projectFilesReader } from './plan-files.js';
import { protectedRefRefusal, refProtection } from './protected-ref.js';
import { recordDeployment } from './record-deployment.js';
import { attachResourceGroup } from './resource-groups.js';

/** `CI_COMMIT_BEFORE_SHA` of every pipeline that is not a push (GitLab's zeros). */
const ZERO_SHA = '0000000000000000000000000000000000000000';

const readers = new WeakMap<Coordinator, GitRepositoryReader>();

/** The coordinator's git reader (one bare cache per repository under `<dataDir>/git-cache`). */
export function gitReader(coordinator: Coordinator): GitRepositoryReader {
  let reader = readers.get(coordinator);
  if (!reader) {
    reader = new GitRepositoryReader(coordinator.config.dataDir, coordinator.config);
    readers.set(coordinator, reader);
  }
  return reader;
}

/** The CI/CD variables a job may get, as stored: the instance's and its groups', and the project's. */
export interface StoredVariables {
  inherited: readonly CiVariableRecord[];
  own: readonly VariableRecord[];
}

/**
 * The CI/CD variables a pipeline on a ref sees, protected ones only on protected refs, in GitLab's
 * order of precedence (a later one with the same key wins): the instance's, then those of the
 * project's groups from the top-level group down, then the project's own. `knownLineage`: the
 * project's group and its ancestors, when the caller has read them already; `known`: the stored
 * variables, when the caller has read them (the PostgreSQL claim reads them with the job).
 */
export async function projectVariablesFor(
  db: Db,
  projectId: number,
  refProtected: boolean,
  knownLineage?: readonly GroupRecord[],
  known?: StoredVariables,
): Promise<Array<{ key: string; value: string; masked: boolean; file: boolean; raw: boolean }>> {
  const repos = repositories(db);
  let lineage = knownLineage;
  if (lineage === undefined) {
    const project = await repos.projects.findById(projectId);
    lineage = project ? await repos.groups.lineage(project.namespaceId) : [];
  }
  const depth = new Map(lineage.map((group, index) => [group.id, lineage.length - index]));
  // Independent reads: on PostgreSQL they go out together, on two of the pool's connections.
  const [instanceAndGroup, own] = known
    ? [[...known.inherited], known.own]
    : await Promise.all([repos.ciVariables.listFor([...depth.keys()]), repos.variables.list(projectId)]);
  const inherited = instanceAndGroup.sort(
    (a, b) =>
      (a.ownerType === 'instance' ? 0 : (depth.get(a.ownerId) ?? 0)) -
      (b.ownerType === 'instance' ? 0 : (depth.get(b.ownerId) ?? 0)),
  );
  const variables = [...inherited, ...own];
  return variables
    .filter((variable) => refProtected || !variable.protected)
    .map((variable) => ({
      key: variable.key,
      value: variable.value,
      masked: variable.masked,
      file: variable.variableType === 'file',
      raw: variable.raw,
    }));
}

/**
 * Why `user` may not deploy to the protected environment `name`, or null when they may (or it is
 * not protected).
 */
export async function environmentRefusal(
  coordinator: Coordinator,
  db: Db,
  project: ProjectRecord,
  user: UserRecord,
  name: string,
): Promise<string | null> {
  const protectedEnvironment = await repositories(db).protection.findProtectedEnvironment(project.id, name);
  if (!protectedEnvironment) return null;
  const required = protectedEnvironment.accessLevel;
  if (required === 0) return `environment "${name}" is protected and no one may deploy to it`;
  if (user.isAdmin) return null;
  const level = (await projectAccessLevel(coordinator, user.id, project)) ?? 0;
  if (required !== 60 && level >= required) return null;
  return `environment "${name}" is protected: deploying to it needs the ${
    required === 60 ? 'administrator' : accessLevelDescription(required).replace(/s$/, '')
  } role or higher`;
}

/**
 * The plan with each job's `environment:name` expanded (GitLab expands it when it creates the
 * pipeline), so that the protection check, the stored environment, `CI_ENVIRONMENT_NAME` and the
 * `environment` claims all see the name the job deploys to, never `$DEPLOY_ENV` as written.
 *
 * @throws TesseraError `ERR_PIPELINE_INVALID` when a name expands to something that is not an
 *   environment name (empty, or with characters GitLab refuses).
 */
function withEnvironmentNamesExpanded(
  plan: PipelinePlan,
  context: {
    predefined: Readonly<Record<string, string>>;
    project: Readonly<Record<string, string>>;
    file: string;
    warnings: ConfigProblem[];
  },
): PipelinePlan {
  const errors: ConfigProblem[] = [];
  const jobs = plan.jobs.map((job) => {
    if (job.environment === null) return job;
    const scope = {
      predefined: context.predefined,
      pipeline: plan.variables,
      job: job.variables,
      project: context.project,
    };
    const name = expandEnvironmentName(job.environment.name, scope);
    // GitLab expands `environment:url` with the job's variables, CI_ENVIRONMENT_SLUG among them.
    const url =
      job.environment.url === null
        ? null
        : expandEnvironmentName(job.environment.url, {
            ...scope,
            predefined: {
              ...context.predefined,
              CI_ENVIRONMENT_NAME: name,
              CI_ENVIRONMENT_SLUG: environmentSlug(name),
            },
          });
    if (name === job.environment.name)
      return url === job.environment.url ? job : { ...job, environment: { ...job.environment, url } };
    if (!isEnvironmentName(name, { expanded: true })) {
      errors.push({
        path: `jobs.${job.name}.environment`,
        message: `"${job.environment.name}" expands to ${JSON.stringify(name.slice(0, 300))}, which is not an environment name: ${ENVIRONMENT_NAME_RULE}`,
        line: job.line,
      });
      return job;
    }
    return { ...job, environment: { ...job.environment, name, url } };
  });
  if (errors.length > 0) throw pipelineInvalid(context.file, errors, context.warnings);
  return { ...plan, jobs };
}

/** Whether a `resource_group` as written may hold a variable (`$NAME`, `${NAME}`, `%NAME%`). */
function hasVariables(key: string | null | undefined): key is string {
  return key != null && (key.includes('$') || key.includes('%'));
}

/** What {@link withResourceGroupsExpanded} expands keys with besides the job's own variables. */
interface ResourceGroupKeyVariables {
  /** The predefined variables known when the pipeline is planned. */
  predefined: Readonly<Record<string, string>>;
  /** Instance, group and project CI/CD variables, then the caller's. */
  project: Readonly<Record<string, string>>;
}

/**
 * The plan with each job's `resource_group` expanded, as GitLab expands it when it creates the
 * pipeline (see {@link expandResourceGroupKey}), so that the stored job, its retries and the
 * resource groups API all hold the key the job is filed under. Environment names must be expanded
 * already. A key that expands to nothing or to something GitLab refuses as a key leaves the job
 * outside any resource group, as in GitLab (which saves no such group); Tessera adds a pipeline
 * warning that says so, without the expanded value (it may hold a masked variable).
 */
async function withResourceGroupsExpanded(
  repos: Repositories,
  plan: PipelinePlan,
  context: {
    projectId: number;
    user: UserRecord;
    predefined: Readonly<Record<string, string>>;
    project: Readonly<Record<string, string>>;
    warnings: ConfigProblem[];
  },
): Promise<PipelinePlan> {
  const jobs: PipelinePlan['jobs'] = [];
  for (const job of plan.jobs) {
    const written = job.resourceGroup;
    if (!hasVariables(written)) {
      jobs.push(job);
      continue;
    }
    const environment = job.environment;
    const stored =
      environment === null || environment.deploymentTier !== null
        ? undefined
        : await repos.protection.findEnvironment(context.projectId, environment.name);
    const key = expandResourceGroupKey(job, {
      predefined: context.predefined,
      pipeline: plan.variables,
      project: context.project,
      user: context.user,
      ...(environment === null ? {} : { environmentTier: stored?.tier ?? guessTier(environment.name) }),
    });
    if (key !== null && isResourceGroupKey(key)) {
      jobs.push(key === written ? job : { ...job, resourceGroup: key });
      continue;
    }
    context.warnings.push({
      path: `jobs.${job.name}.resource_group`,
      message: `"${written}" expands to an empty or invalid key (${RESOURCE_GROUP_KEY_RULE}): the job runs outside any resource group`,
      line: job.line,
    });
    jobs.push({ ...job, resourceGroup: null });
  }
  return { ...plan, jobs };
}

/**
 * What `include:rules` and `expand_vars` in inputs see: the predefined, project and pipeline
 * variables (GitLab), but no masked one, since an input's value lands in scripts and listings.
 */
export function variablesForIncludes(
  predefined: Readonly<Record<string, string>>,
  projectVariables: readonly { key: string; value: string; masked: boolean }[],
  pipelineVariables: Readonly<Record<string, string>> = {},
): Record<string, string> {
  return {
    ...predefined,
    ...Object.fromEntries(
      projectVariables
        .filter((variable) => !variable.masked)
        .map((variable) => [variable.key, variable.value]),
    ),
    ...pipelineVariables,
  };
}

/**
 * `ERR_PIPELINE_INPUTS_INVALID` naming the first input at fault, when an invalid configuration's
 * errors are about the given inputs (`inputs.<name>`); `undefined` otherwise.
 */
function inputsInvalid(error: TesseraError): TesseraError | undefined {
  if (error.code !== 'ERR_PIPELINE_INVALID') return undefined;
  const errors = ((error.details?.errors ?? []) as ConfigProblem[]).filter(
    (problem) => problem.path === 'inputs' || problem.path.startsWith('inputs.'),
  );
  const first = errors[0];
  if (first === undefined) return undefined;
  const name = first.path.slice('inputs.'.length);
  return new TesseraError('ERR_PIPELINE_INPUTS_INVALID', `inputs.${name}: ${first.message}`, {
    details: { input: name, errors },
  });
}

/** A pipeline planned for a resolved ref: the loaded configuration and the plan (nothing stored). */
export interface PlannedAtRef {
  loaded: Awaited<ReturnType<typeof loadPipeline>>;
  plan: PipelinePlan;
  /** What the `resource_group` keys are expanded with (kept as written with `keepResourceGroupKeys`). */
  resourceGroupKeyVariables: ResourceGroupKeyVariables;
}

/**
 * Reads the CI configuration at a resolved ref's commit and plans it with the predefined,
 * project and caller variables, exactly as {@link createPipeline} does before it stores anything.
 * The claim preview plans with it too, so a preview sees the very jobs a pipeline would get.
 * Checks no permission: the callers do.
 *
 * @throws TesseraError `ERR_GIT_CONFIG_NOT_FOUND` without a configuration file at that commit,
 *   and the errors of loading and planning it.
 */
export async function planResolvedRef(
  coordinator: Coordinator,
  input: {
    project: ProjectRecord;
    user: UserRecord;
    ref: ResolvedRef;
    refProtected: boolean;
    source: PipelineSource;
    variables?: Record<string, string>;
    /** A configuration to plan instead of the one at the ref (the claim preview's pasted job). */
    configContent?: string;
    /** `CI_COMMIT_BEFORE_SHA` (see {@link createPipeline}); zeros when absent. */
    beforeSha?: string;
    /** The name errors give `configContent` (the project's configuration path when absent). */
    configFile?: string;
    /** A child pipeline's reader of its parent's artifacts (`trigger:include:artifact`). */
    readArtifact?: (job: string, path: string) => Promise<string>;
    /** Values for the configuration's `spec:inputs` (see {@link createPipeline}). */
    inputs?: PipelineInputValues;
    /**
     * Leaves `resource_group` keys as written, for a caller that expands them once the pipeline's
     * iid is allocated (`CI_PIPELINE_IID`), as {@link createPipeline} does.
     */
    keepResourceGroupKeys?: boolean;
  },
): Promise<PlannedAtRef> {
  const { project, user, ref } = input;
  const protection = { protected: input.refProtected };
  const git = gitReader(coordinator);
  const cache = await git.fetch(project.repositoryUrl, ref);
  const read = await git.readCommitAndFile(cache, ref.sha, project.ciConfigPath);
  const { commit } = read;
  const content = input.configContent ?? read.content;
  const configFile =
    input.configContent === undefined ? project.ciConfigPath : (input.configFile ?? project.ciConfigPath);
  // One answer for a missing, unreadable or non-pipeline file: what the file holds stays unsaid.
  const noConfig = () =>
    new TesseraError(
      'ERR_GIT_CONFIG_NOT_FOUND',
      `commit ${ref.sha.slice(0, 8)} of ${ref.type} "${ref.name}" has no ${project.ciConfigPath}, or it is not a pipeline configuration (a YAML mapping of keywords and jobs)`,
    );
  if (content === undefined) throw noConfig();
  const ruleVariables = buildRuleVariables({
    ref: ref.name,
    tag: ref.type === 'tag',
    source: input.source,
    defaultBranch: project.defaultBranch,
    refProtected: protection.protected,
    projectPath: project.pathWithNamespace,
    projectId: String(project.id),
    projectVisibility: project.visibility as 'private' | 'internal' | 'public',
    serverUrl: coordinator.urls.serverUrl,
    sha: ref.sha,
    beforeSha: input.beforeSha ?? ZERO_SHA,
    commitMessage: commit.message,
    commitAuthor: commit.author,
    userLogin: user.username,
    configPath: project.ciConfigPath,
  });
  const projectVariables = await projectVariablesFor(coordinator.store.db, project.id, protection.protected);
  const callerVariables = {
    ...Object.fromEntries(projectVariables.map((variable) => [variable.key, variable.value])),
    ...input.variables,
  };
  // rules:changes (of jobs and of includes) compares with the push's before-sha, else the commit's parent.
  const changedPaths = changedPathsOf({
    git,
    repositoryUrl: project.repositoryUrl,
    cache,
    source: input.source,
    ref,
    beforeSha: input.beforeSha ?? commit.beforeSha,
  });
  const includeSources = includeSourcesFor(
    coordinator,
    user,
    input.readArtifact === undefined ? {} : { readArtifact: input.readArtifact },
  );
  const loaded = await loadPipeline({
    content,
    file: configFile,
    changedPaths,
    readLocalFile: (path) => git.readFile(cache, ref.sha, path),
    listLocalFiles: () => git.listFiles(cache, ref.sha),
    fetchRemoteFile: createRemoteIncludeFetcher(coordinator.config),
    variables: variablesForIncludes(ruleVariables, projectVariables, input.variables),
    // Other projects and components are read with the pipeline user's access, never more.
    includeSources,
    project: project.pathWithNamespace,
    sha: ref.sha,
    ...(input.inputs === undefined ? {} : { inputs: input.inputs }),
  }).catch((error: unknown) => {
    if (isTesseraError(error) && input.inputs !== undefined) throw inputsInvalid(error) ?? error;
    if (isTesseraError(error) && !isMeantAsPipeline(content, configFile)) throw noConfig();
    throw error;
  });
  const planFiles = await planFilesFor({ git, cache, ref, spec: loaded.spec, changedPaths });
  // rules:exists:project reads other projects as include:project does, with the same sources.
  const planned: PipelinePlan = await planPipelineReading(
    loaded.spec,
    { ...ruleVariables, ...callerVariables },
    planFiles,
    projectFilesReader(includeSources),
  );
  const named = withEnvironmentNamesExpanded(planned, {
    predefined: ruleVariables,
    project: callerVariables,
    file: configFile,
    warnings: loaded.warnings,
  });
  const resourceGroupKeyVariables = { predefined: ruleVariables, project: callerVariables };
  const plan = input.keepResourceGroupKeys
    ? named
    : await withResourceGroupsExpanded(coordinator.repos, named, {
        projectId: project.id,
        user,
        ...resourceGroupKeyVariables,
        warnings: loaded.warnings,
      });
  return { loaded, plan, resourceGroupKeyVariables };
}

/**
 * Creates a pipeline for `ref` (`POST /projects/:id/pipeline?ref=`): resolves the ref with git,
 * refuses a protected ref to a user below its level (403 saying why), reads the configuration from
 * the repository at the ref's commit (never from the caller), plans it with the predefined and
 * project variables, refuses deployments to protected environments the user may not deploy to,
 * and stores the pipeline and its jobs with their first states.
 */
export async function createPipeline(
  coordinator: Coordinator,
  input: {
    project: ProjectRecord;
    user: UserRecord;
    ref: string;
    source: PipelineSource;
    variables?: Record<string, string>;
    /**
     * `ref` as already resolved in the project's repository itself, which spares asking the
     * remote (`tessera run`, whose repository is the working copy it has just inspected).
     */
    resolvedRef?: ResolvedRef;
    /**
     * `CI_COMMIT_BEFORE_SHA` of a push pipeline: the commit the ref pointed at before the push
     * (zeros for a new branch or tag). Zeros for every other pipeline, as GitLab.
     */
    beforeSha?: string;
    /**
     * A downstream pipeline's: the bridge job that creates it, and its configuration (a child
     * pipeline's `include:` of local files) in place of the project's configuration file.
     */
    bridge?: {
      jobId: number;
      configContent?: string;
      configFile?: string;
      /** Reads files of the parent pipeline's artifacts (`trigger:include:artifact`). */
      readArtifact?: (job: string, path: string) => Promise<string>;
    };
    /**
     * Values for the configuration's `spec:inputs` header (GitLab's pipeline inputs): checked
     * against it (`ERR_PIPELINE_INPUTS_INVALID`), interpolated, never stored as variables.
     */
    inputs?: PipelineInputValues;
  },
): Promise<PipelineRecord> {
  const { project, user } = input;
  const git = gitReader(coordinator);
  const ref =
    input.resolvedRef?.name === input.ref
      ? input.resolvedRef
      : await git.resolveRef(project.repositoryUrl, input.ref);
  const protection = await refProtection(coordinator.store.db, project.id, ref.type, ref.name);
  const level = await projectAccessLevel(coordinator, user.id, project);
  const refusal = protectedRefRefusal(protection, ref.type, ref.name, level, user.isAdmin);
  if (refusal) throw new TesseraError('ERR_REF_PROTECTED', refusal);
  if (!user.isAdmin && (level ?? 0) < ACCESS_LEVELS.developer) {
    throw new TesseraError(
      'ERR_FORBIDDEN',
      'running pipelines needs the Developer role or higher on the project',
    );
  }
  const {
    loaded,
    plan: planned,
    resourceGroupKeyVariables,
  } = await planResolvedRef(coordinator, {
    project,
    user,
    ref,
    refProtected: protection.protected,
    source: input.source,
    keepResourceGroupKeys: true,
    ...(input.variables ? { variables: input.variables } : {}),
    ...(input.beforeSha ? { beforeSha: input.beforeSha } : {}),
    ...(input.inputs === undefined ? {} : { inputs: input.inputs }),
    ...(input.bridge?.configContent === undefined
      ? {}
      : {
          configContent: input.bridge.configContent,
          configFile: input.bridge.configFile ?? project.ciConfigPath,
        }),
    ...(input.bridge?.readArtifact === undefined ? {} : { readArtifact: input.bridge.readArtifact }),
  });
  if (!planned.created || planned.jobs.length === 0) {
    const message = planned.created
      ? 'no jobs for this pipeline: the rules leave every job out for this ref'
      : 'pipeline filtered out by workflow rules';
    throw new TesseraError('ERR_PIPELINE_INVALID', message, {
      details: {
        errors: [{ path: planned.created ? 'jobs' : 'workflow.rules', message, line: null }],
        warnings: loaded.warnings,
      },
    });
  }
  for (const job of planned.jobs) {
    if (job.environment === null || job.when === 'manual') continue;
    const why = await environmentRefusal(
      coordinator,
      coordinator.store.db,
      project,
      user,
      job.environment.name,
    );
    if (why) throw new TesseraError('ERR_ENVIRONMENT_PROTECTED', `job "${job.name}": ${why}`);
  }
  const now = coordinator.clock();
  const defaultTimeout = project.jobTimeout ?? coordinator.config.jobTimeout;
  const pipeline = await coordinator.store.transaction(async (tx) => {
    const repos = repositories(tx);
    // GitLab allocates the pipeline's iid before it expands the resource_group keys, so that
    // CI_PIPELINE_IID reaches them (CI_PIPELINE_CREATED_AT does not: the pipeline is saved after).
    // The iid allocated here is the one `create` stores: the project's row is locked (PostgreSQL)
    // or the write transaction holds the database (SQLite) from here on.
    const iid = planned.jobs.some((job) => hasVariables(job.resourceGroup))
      ? await nextProjectIid(tx, 'pipelines', project.id)
      : undefined;
    const plan =
      iid === undefined
        ? planned
        : await withResourceGroupsExpanded(repos, planned, {
            projectId: project.id,
            user,
            predefined: { ...resourceGroupKeyVariables.predefined, CI_PIPELINE_IID: String(iid) },
            project: resourceGroupKeyVariables.project,
            warnings: loaded.warnings,
          });
    const created = await repos.pipelines.create({
      ...(iid === undefined ? {} : { iid }),
      projectId: project.id,
      sha: ref.sha,
      ref: ref.name,
      refType: ref.type,
      refProtected: protection.protected,
      source: input.source,
      status: 'created',
      userId: user.id,
      ciConfigPath: project.ciConfigPath,
      ciConfigSha: ref.sha,
      variables: plan.variables,
      apiVariables: input.variables ?? {},
      beforeSha: input.beforeSha ?? ZERO_SHA,
      warnings: loaded.warnings.map((warning) => `${warning.path}: ${warning.message}`),
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      finishedAt: null,
      sourceJobId: input.bridge?.jobId ?? null,
    });
    for (const job of plan.jobs) {
      if (job.environment && !(await repos.protection.findEnvironment(project.id, job.environment.name))) {
        const autoStopIn = job.environment.autoStopInSeconds;
        await repos.protection.createEnvironment({
          projectId: project.id,
          name: job.environment.name,
          externalUrl: job.environment.url,
          tier: job.environment.deploymentTier ?? guessTier(job.environment.name),
          state: 'available',
          createdAt: now,
          // GitLab starts the auto-stop clock when a job creates the environment, too.
          autoStopAt: autoStopIn == null ? null : now + autoStopIn * 1000,
        });
      }
      const stored = await repos.jobs.create({
        pipelineId: created.id,
        projectId: project.id,
        name: job.name,
        stage: job.stage,
        stageIndex: job.stageIndex,
        status: 'created',
        whenCondition: job.when,
        allowFailure: job.allowFailure,
        spec: job,
        needs: job.needs === null ? null : [...job.needs],
        tags: [...job.tags],
        environmentName: job.environment?.name ?? null,
        attempt: 0,
        userId: user.id,
        timeoutSeconds: job.timeoutSeconds ?? defaultTimeout,
        createdAt: now,
      });
      await attachResourceGroup(tx, project.id, stored.id, job.resourceGroup, now);
      await recordDeployment(tx, stored, created, now);
    }
    await advancePipeline(tx, created.id, now);
    return created;
  });
  coordinator.notifyJobs();
  // A downstream pipeline cancels nothing: its upstream, built for the same push, already did.
  if (input.bridge === undefined) await cancelRedundantPipelines(coordinator, pipeline);
  return (await coordinator.repos.pipelines.findById(pipeline.id)) ?? pipeline;
}
