import { TesseraError } from '../errors.js';
import { loadPipeline } from '../pipeline/load.js';
import { type PipelinePlan, planPipeline } from '../pipeline/plan.js';
import { buildRuleVariables, type PipelineSource } from '../pipeline/rule-variables.js';
import type { Db } from '../store/open-store.js';
import type { PipelineRecord } from '../store/repositories/pipelines.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';
import { repositories } from '../store/repositories.js';
import { ACCESS_LEVELS, accessLevelDescription } from './access-level.js';
import { advancePipeline } from './advance-pipeline.js';
import { cancelRedundantPipelines } from './cancel-redundant-pipelines.js';
import type { Coordinator } from './coordinator.js';
import { guessTier } from './deployment-tier.js';
import { GitRepositoryReader, type ResolvedRef } from './git-repository.js';
import { projectAccessLevel } from './permissions.js';
import { planFilesFor } from './plan-files.js';
import { protectedRefRefusal, refProtection } from './protected-ref.js';
import { attachResourceGroup } from './resource-groups.js';

const readers = new WeakMap<Coordinator, GitRepositoryReader>();

/** The coordinator's git reader (one bare cache per repository under `<dataDir>/git-cache`). */
export function gitReader(coordinator: Coordinator): GitRepositoryReader {
  let reader = readers.get(coordinator);
  if (!reader) {
    reader = new GitRepositoryReader(coordinator.config.dataDir);
    readers.set(coordinator, reader);
  }
  return reader;
}

/** The project variables a pipeline on a ref sees: protected ones only on protected refs. */
export async function projectVariablesFor(
  db: Db,
  projectId: number,
  refProtected: boolean,
): Promise<Array<{ key: string; value: string; masked: boolean; file: boolean; raw: boolean }>> {
  const variables = await repositories(db).variables.list(projectId);
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
  const cache = await git.fetch(project.repositoryUrl, ref);
  const { content, commit } = await git.readCommitAndFile(cache, ref.sha, project.ciConfigPath);
  if (content === undefined) {
    throw new TesseraError(
      'ERR_GIT_CONFIG_NOT_FOUND',
      `commit ${ref.sha.slice(0, 8)} of ${ref.type} "${ref.name}" has no ${project.ciConfigPath}`,
    );
  }
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
    beforeSha: commit.beforeSha,
    commitMessage: commit.message,
    commitAuthor: commit.author,
    userLogin: user.username,
    configPath: project.ciConfigPath,
  });
  const projectVariables = await projectVariablesFor(coordinator.store.db, project.id, protection.protected);
  const knownVariables = {
    ...ruleVariables,
    ...Object.fromEntries(projectVariables.map((variable) => [variable.key, variable.value])),
    ...input.variables,
  };
  const loaded = await loadPipeline({
    content,
    file: project.ciConfigPath,
    readLocalFile: (path) => git.readFile(cache, ref.sha, path),
    listLocalFiles: () => git.listFiles(cache, ref.sha),
    // include:rules and expand_vars see the predefined, project and pipeline variables (GitLab),
    // but no masked one: an input's value lands in scripts and listings.
    variables: {
      ...ruleVariables,
      ...Object.fromEntries(
        projectVariables
          .filter((variable) => !variable.masked)
          .map((variable) => [variable.key, variable.value]),
      ),
      ...input.variables,
    },
  });
  const planFiles = await planFilesFor({
    git,
    repositoryUrl: project.repositoryUrl,
    cache,
    spec: loaded.spec,
    source: input.source,
    ref,
    beforeSha: commit.beforeSha,
  });
  const plan: PipelinePlan = planPipeline(loaded.spec, knownVariables, planFiles);
  if (!plan.created || plan.jobs.length === 0) {
    const message = plan.created
      ? 'no jobs for this pipeline: the rules leave every job out for this ref'
      : 'pipeline filtered out by workflow rules';
    throw new TesseraError('ERR_PIPELINE_INVALID', message, {
      details: {
        errors: [{ path: plan.created ? 'jobs' : 'workflow.rules', message, line: null }],
        warnings: loaded.warnings,
      },
    });
  }
  for (const job of plan.jobs) {
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
    const created = await repos.pipelines.create({
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
      warnings: loaded.warnings.map((warning) => `${warning.path}: ${warning.message}`),
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      finishedAt: null,
    });
    for (const job of plan.jobs) {
      if (job.environment && !(await repos.protection.findEnvironment(project.id, job.environment.name))) {
        await repos.protection.createEnvironment({
          projectId: project.id,
          name: job.environment.name,
          externalUrl: job.environment.url,
          tier: job.environment.deploymentTier ?? guessTier(job.environment.name),
          state: 'available',
          createdAt: now,
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
    }
    await advancePipeline(tx, created.id, now);
    return created;
  });
  coordinator.notifyJobs();
  await cancelRedundantPipelines(coordinator, pipeline);
  return (await coordinator.repos.pipelines.findById(pipeline.id)) ?? pipeline;
}
