import { stringify } from 'yaml';
import { isTesseraError } from '../errors.js';
import { expandVariables } from '../pipeline/expand-variables.js';
import type { PlannedJob } from '../pipeline/plan.js';
import type { TriggerInclude, TriggerSpec } from '../pipeline/schema/trigger.js';
import type { JobRecord } from '../store/repositories/jobs.js';
import type { PipelineRecord } from '../store/repositories/pipelines.js';
import { repositories } from '../store/repositories.js';
import { advancePipeline } from './advance-pipeline.js';
import type { Coordinator } from './coordinator.js';
import { createPipeline } from './create-pipeline.js';
import { parentArtifactReader } from './parent-artifact-reader.js';
import { projectAccessLevel } from './permissions.js';

/** GitLab nests child pipelines two levels deep (parent → child → grandchild). */
export const MAX_CHILD_PIPELINE_DEPTH = 2;

/**
 * How many upstream pipelines a pipeline may have (GitLab bounds a pipeline hierarchy at 1000
 * pipelines); it stops projects whose bridges trigger each other from running forever.
 */
export const MAX_PIPELINE_HIERARCHY_DEPTH = 1000;

/** Pending bridges started per sweep; a later sweep takes the rest. */
const SWEEP_BATCH = 50;

interface SweepState {
  running: Promise<void> | null;
  again: boolean;
}

const sweeps = new WeakMap<Coordinator, SweepState>();

/**
 * Starts the pending bridge (`trigger:`) jobs, one sweep at a time per coordinator: a call while
 * a sweep runs makes it look once more when it ends, so no bridge that became pending is missed.
 * The coordinator calls it whenever jobs may have become pending. Answers when the sweep ends.
 */
export function startBridgeJobs(coordinator: Coordinator): Promise<void> {
  let state = sweeps.get(coordinator);
  if (!state) {
    state = { running: null, again: false };
    sweeps.set(coordinator, state);
  }
  if (state.running) {
    state.again = true;
    return state.running;
  }
  const current = state;
  current.running = (async () => {
    do {
      current.again = false;
      const ids = await coordinator.repos.jobs.listPendingBridgeIds(SWEEP_BATCH);
      for (const id of ids) await startBridgeJob(coordinator, id);
      if (ids.length === SWEEP_BATCH) current.again = true;
    } while (current.again);
  })().finally(() => {
    current.running = null;
  });
  return current.running;
}

/** The variables a bridge passes down, as its `forward:` says (GitLab: YAML ones yes, pipeline ones no). */
export function forwardedVariables(
  bridge: PlannedJob,
  trigger: TriggerSpec,
  upstream: Pick<PipelineRecord, 'variables' | 'apiVariables'>,
): Record<string, string> {
  const forwarded: Record<string, string> = {};
  if (trigger.forward.yamlVariables) {
    // The global YAML variables the bridge inherits (inherit:variables), then its own.
    const inherit = bridge.inheritVariables ?? true;
    for (const [key, value] of Object.entries(upstream.variables)) {
      if (inherit === true || (Array.isArray(inherit) && inherit.includes(key))) forwarded[key] = value;
    }
    Object.assign(forwarded, bridge.variables);
  }
  if (trigger.forward.pipelineVariables) Object.assign(forwarded, upstream.apiVariables);
  return forwarded;
}

/** How many pipelines, of any project, lie upstream of `pipeline`. */
async function hierarchyDepth(coordinator: Coordinator, pipeline: PipelineRecord): Promise<number> {
  let depth = 0;
  let current: PipelineRecord | undefined = pipeline;
  while (current?.sourceJobId != null && depth < MAX_PIPELINE_HIERARCHY_DEPTH) {
    depth += 1;
    const bridge: JobRecord | undefined = await coordinator.repos.jobs.findById(current.sourceJobId);
    current = bridge ? await coordinator.repos.pipelines.findById(bridge.pipelineId) : undefined;
  }
  return depth;
}

/** How many child pipelines deep `pipeline` is (0 for a pipeline no bridge of its project made). */
async function childDepth(coordinator: Coordinator, pipeline: PipelineRecord): Promise<number> {
  let depth = 0;
  let current: PipelineRecord | undefined = pipeline;
  while (current?.source === 'parent_pipeline' && current.sourceJobId !== null) {
    depth += 1;
    const bridge: JobRecord | undefined = await coordinator.repos.jobs.findById(current.sourceJobId);
    current = bridge ? await coordinator.repos.pipelines.findById(bridge.pipelineId) : undefined;
  }
  return depth;
}

/**
 * Runs one bridge: takes it from `pending` to `running` (compare-and-set, so one coordinator
 * wins), creates its downstream pipeline as the upstream pipeline's user, then ends the bridge:
 * `success` at once without `strategy: depend` (with it, the downstream pipeline's end settles
 * it, see `advancePipeline`), `failed` with GitLab's failure reason and the reason in its log
 * when the pipeline cannot be created.
 */
async function startBridgeJob(coordinator: Coordinator, jobId: number): Promise<void> {
  const now = coordinator.clock();
  const started = await coordinator.store.transaction(async (tx) => {
    const repos = repositories(tx);
    const moved = await repos.jobs.transition(jobId, ['pending'], { status: 'running', startedAt: now });
    if (!moved) return undefined;
    const job = await repos.jobs.findById<PlannedJob>(jobId);
    if (job) await advancePipeline(tx, job.pipelineId, now);
    return job;
  });
  if (!started?.spec.trigger) return;
  const trigger = started.spec.trigger;
  const outcome = await createDownstream(coordinator, started, trigger).catch((error: unknown) => ({
    failureReason:
      error instanceof BridgeFailure
        ? error.failureReason
        : isTesseraError(error)
          ? failureReasonOf(error.code)
          : 'unknown_failure',
    message: describeFailure(error),
  }));
  const end = coordinator.clock();
  const queued = await coordinator.store.transaction(async (tx) => {
    const repos = repositories(tx);
    if ('failureReason' in outcome) {
      await repos.jobs.appendTrace(jobId, `Downstream pipeline cannot be created: ${outcome.message}\n`);
      const moved = await repos.jobs.transition(jobId, ['running'], {
        status: 'failed',
        failureReason: outcome.failureReason,
        finishedAt: end,
      });
      return moved ? advancePipeline(tx, started.pipelineId, end) : false;
    }
    await repos.jobs.appendTrace(
      jobId,
      `Created downstream pipeline #${outcome.pipeline.id} (${outcome.pipeline.source}, ${outcome.pipeline.ref} at ${outcome.pipeline.sha.slice(0, 8)})\n`,
    );
    if (trigger.strategy === 'depend') return false;
    const moved = await repos.jobs.transition(jobId, ['running'], { status: 'success', finishedAt: end });
    return moved ? advancePipeline(tx, started.pipelineId, end) : false;
  });
  if (queued) coordinator.notifyJobs();
  coordinator.notifyJobFinished();
}

async function createDownstream(
  coordinator: Coordinator,
  bridge: JobRecord<PlannedJob>,
  trigger: TriggerSpec,
): Promise<{ pipeline: PipelineRecord }> {
  const repos = coordinator.repos;
  const upstream = await repos.pipelines.findById(bridge.pipelineId);
  const project = await repos.projects.findById(bridge.projectId);
  const userId = upstream?.userId ?? null;
  const user = userId === null ? undefined : await repos.users.findById(userId);
  if (!upstream || !project || !user)
    throw new BridgeFailure(
      'unknown_failure',
      'the upstream pipeline, its project or its user no longer exists',
    );
  if ((await hierarchyDepth(coordinator, upstream)) >= MAX_PIPELINE_HIERARCHY_DEPTH) {
    throw new BridgeFailure(
      'reached_max_pipeline_hierarchy_size',
      `this pipeline has ${MAX_PIPELINE_HIERARCHY_DEPTH} upstream pipelines already (bridges that trigger each other?)`,
    );
  }
  const variables = forwardedVariables(bridge.spec, trigger, upstream);
  if (trigger.include === null) {
    // GitLab expands project and branch with the bridge's variables.
    const scope: Record<string, string> = {
      CI_COMMIT_REF_NAME: upstream.ref,
      ...(upstream.refType === 'tag' ? { CI_COMMIT_TAG: upstream.ref } : { CI_COMMIT_BRANCH: upstream.ref }),
      CI_COMMIT_SHA: upstream.sha,
      CI_DEFAULT_BRANCH: project.defaultBranch,
      CI_PROJECT_PATH: project.pathWithNamespace,
      CI_PROJECT_NAMESPACE: project.pathWithNamespace.split('/').slice(0, -1).join('/'),
      ...upstream.variables,
      ...upstream.apiVariables,
      ...bridge.spec.variables,
    };
    const projectPath = expandVariables(trigger.project ?? '', scope);
    const downstreamProject = await repos.projects.findByPath(projectPath);
    // A private project the user is no member of reads as missing: its existence is its members'.
    const hidden =
      downstreamProject !== undefined &&
      !user.isAdmin &&
      downstreamProject.visibility === 'private' &&
      (await projectAccessLevel(coordinator, user.id, downstreamProject)) === null;
    if (!downstreamProject || hidden) {
      throw new BridgeFailure(
        'downstream_bridge_project_not_found',
        `no project "${projectPath}" that ${user.username} can see on this instance`,
      );
    }
    const branch =
      trigger.branch === null ? downstreamProject.defaultBranch : expandVariables(trigger.branch, scope);
    try {
      const pipeline = await createPipeline(coordinator, {
        project: downstreamProject,
        user,
        ref: branch,
        source: 'pipeline',
        variables,
        bridge: { jobId: bridge.id },
        ...(trigger.inputs === undefined ? {} : { inputs: trigger.inputs }),
      });
      return { pipeline };
    } catch (error) {
      if (isTesseraError(error) && error.code === 'ERR_FORBIDDEN')
        throw new BridgeFailure(
          'insufficient_bridge_permissions',
          `${user.username} may not run pipelines in "${projectPath}": that needs the Developer role or higher there`,
        );
      throw error;
    }
  }
  if ((await childDepth(coordinator, upstream)) >= MAX_CHILD_PIPELINE_DEPTH) {
    throw new BridgeFailure(
      'reached_max_descendant_pipelines_depth',
      `child pipelines nest at most ${MAX_CHILD_PIPELINE_DEPTH} levels deep, and this pipeline is already a child's child`,
    );
  }
  const configContent = stringify({ include: trigger.include.map(childInclude) });
  const pipeline = await createPipeline(coordinator, {
    project,
    user,
    ref: upstream.ref,
    // The child runs the very commit of its parent, wherever the ref points now.
    resolvedRef: {
      name: upstream.ref,
      type: upstream.refType,
      fullRef: `refs/${upstream.refType === 'tag' ? 'tags' : 'heads'}/${upstream.ref}`,
      sha: upstream.sha,
    },
    source: 'parent_pipeline',
    variables,
    beforeSha: upstream.beforeSha,
    bridge: {
      jobId: bridge.id,
      configContent,
      configFile: trigger.include.map(describeChildInclude).join(', '),
      readArtifact: parentArtifactReader(coordinator, upstream.id),
    },
  });
  return { pipeline };
}

/** One `trigger:include` entry as the child configuration's `include` entry. */
function childInclude(file: TriggerInclude): Record<string, unknown> {
  if (typeof file === 'string') return { local: file };
  // No ref: the project's default branch, as an include:project without one.
  if ('project' in file && file.ref === null) {
    const { ref: _none, ...rest } = file;
    return rest;
  }
  return { ...file };
}

/** How the child's errors name its configuration: the files it is made of. */
function describeChildInclude(file: TriggerInclude): string {
  if (typeof file === 'string') return file;
  if ('local' in file) return file.local;
  if ('project' in file)
    return `${file.file.join(', ')} of ${file.project}${file.ref === null ? '' : ` at ${file.ref}`}`;
  if ('artifact' in file) return `${file.artifact} of the artifacts of job ${file.job}`;
  // Without the query string, which may hold a token.
  if ('remote' in file) return file.remote.replace(/\?.*$/s, '?…');
  return file.component;
}

/** A bridge that cannot start, with GitLab's failure reason. */
class BridgeFailure extends Error {
  constructor(
    readonly failureReason: string,
    message: string,
  ) {
    super(message);
  }
}

function failureReasonOf(code: string): string {
  if (code === 'ERR_FORBIDDEN' || code === 'ERR_REF_PROTECTED' || code === 'ERR_ENVIRONMENT_PROTECTED')
    return 'insufficient_bridge_permissions';
  return 'downstream_pipeline_creation_failed';
}

/** What the bridge's log says went wrong: the error and, for an invalid configuration, each problem. */
function describeFailure(error: unknown): string {
  if (error instanceof BridgeFailure) return error.message;
  if (!isTesseraError(error)) return 'an internal error stopped it';
  const problems = (error.details?.errors ?? []) as Array<{
    path?: string;
    message?: string;
    line?: number | null;
  }>;
  const lines = problems.map(
    (problem) =>
      `  ${problem.path ?? ''}${problem.line ? ` (line ${problem.line})` : ''}: ${problem.message ?? ''}`,
  );
  return [error.message, ...lines].join('\n');
}
