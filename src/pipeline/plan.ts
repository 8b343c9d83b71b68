import type { RE2JS } from 're2js';
import type { ConfigProblem } from './config-problem.js';
import { expandVariables } from './expand-variables.js';
import { evaluateExpression, type VariableScope } from './expression/evaluate.js';
import { compileGlob, existsIn } from './glob.js';
import { IncludeSourceError } from './include-sources.js';
import { pipelineInvalid } from './load.js';
import { DEFAULT_AUTO_CANCEL } from './schema/auto-cancel.js';
import type { TriggerSpec } from './schema/trigger.js';
import type {
  ArtifactsSpec,
  AutoCancelSpec,
  CacheSpec,
  ChangesSpec,
  EnvironmentSpec,
  ExistsSpec,
  HooksSpec,
  IdTokenSpec,
  ImageSpec,
  JobSpec,
  JobWhen,
  NeedSpec,
  PipelineSpec,
  PolicySpec,
  ReleaseSpec,
  RuleSpec,
  SecretSpec,
  ServiceSpec,
} from './spec.js';

/** A `needs:project` or `needs:pipeline` entry of a planned job, its values expanded. */
export interface PlannedCrossNeed {
  readonly source: 'project' | 'pipeline';
  /** The project's full path (or id), or the pipeline's id. */
  readonly from: string;
  readonly job: string;
  readonly ref: string | null;
}

/** A job the pipeline gets, with everything the coordinator stores for it. */
export interface PlannedJob {
  readonly name: string;
  readonly stage: string;
  readonly stageIndex: number;
  readonly when: JobWhen;
  /** `true`: any failure is allowed. With `allowFailureExitCodes`, only those exit codes are. */
  readonly allowFailure: boolean;
  readonly allowFailureExitCodes: readonly number[];
  /** Jobs to wait for, restricted to jobs in this pipeline; `null` waits for all earlier stages. */
  readonly needs: readonly string[] | null;
  readonly beforeScript: readonly string[];
  readonly script: readonly string[];
  readonly afterScript: readonly string[];
  /** `hooks:` (or `default:hooks`); absent when the job has no hook command. */
  readonly hooks?: HooksSpec;
  /** Job and matching-rule variables (not the global ones, which are on the plan). */
  readonly variables: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number | null;
  readonly retry: {
    readonly max: number;
    readonly when: readonly string[];
    /** `retry:exit_codes`; absent when not written. */
    readonly exitCodes?: readonly number[];
  };
  readonly tags: readonly string[];
  readonly environment: EnvironmentSpec | null;
  readonly idTokens: Readonly<Record<string, IdTokenSpec>>;
  readonly secrets: Readonly<Record<string, SecretSpec>>;
  /** The job's `interruptible`, or its matching rule's when that rule sets it (GitLab). */
  readonly interruptible: boolean;
  /** `manual_confirmation:` of a job that is `when: manual` (by itself or by its rule); absent otherwise. */
  readonly manualConfirmation?: string;
  /** `image:`, only when the job (or `default`) names one. */
  readonly image?: ImageSpec | null;
  /** `services:`, only when there are any. */
  readonly services?: readonly ServiceSpec[];
  readonly artifacts: ArtifactsSpec | null;
  readonly cache: readonly CacheSpec[];
  /**
   * Jobs whose artifacts this job downloads (from `dependencies`, else from `needs` without
   * `artifacts: false`), restricted to jobs in this pipeline; `null`: every job of earlier stages.
   */
  readonly artifactsFrom: readonly string[] | null;
  /**
   * `needs:project` and `needs:pipeline` entries with `artifacts: true`, variables expanded:
   * resolved when the job is picked up (absent when there are none).
   */
  readonly crossNeeds?: readonly PlannedCrossNeed[];
  /** For a job `parallel` made: `CI_NODE_INDEX` and `CI_NODE_TOTAL` (absent in older stored jobs). */
  readonly parallel?: { readonly index: number; readonly total: number } | null;
  /** `coverage:` pattern (absent in older stored jobs). */
  readonly coverage?: string | null;
  /**
   * The pipeline's `workflow:auto_cancel` with the matching workflow rule's `auto_cancel` on top,
   * kept with each job (absent: GitLab's defaults).
   */
  readonly autoCancel?: AutoCancelSpec;
  /** `release:` (absent in older stored jobs). */
  readonly release?: ReleaseSpec | null;
  /** `resource_group` (absent in older stored jobs). */
  readonly resourceGroup?: string | null;
  /** `trigger:` of a bridge job, which the coordinator runs itself (absent for other jobs). */
  readonly trigger?: TriggerSpec | null;
  /** `start_in` of a delayed job, in seconds (absent in older stored jobs). */
  readonly startInSeconds?: number | null;
  /** `inherit:variables` (absent in older stored jobs: all). */
  readonly inheritVariables?: boolean | readonly string[];
  readonly line: number | null;
}

/** The result of {@link planPipeline}. */
export interface PipelinePlan {
  /** `false` when `workflow:rules` leave the pipeline out (no rule matched, or `when: never`). */
  readonly created: boolean;
  /** Global YAML variables with the matching workflow rule's variables on top. */
  readonly variables: Record<string, string>;
  /** Jobs in stage order, then file order; only those the rules let through. */
  readonly jobs: PlannedJob[];
}

/**
 * Decides which jobs a pipeline gets for the given variables (predefined ones from
 * `buildRuleVariables` plus project variables): `workflow:rules`, then each job's `rules` or
 * `only`/`except` (default `only: [branches, tags]`, as GitLab). Variables seen by expressions,
 * lowest to highest precedence: global YAML, workflow rule, job YAML, then `variables` (the
 * caller's, as project variables outrank YAML in GitLab).
 *
 * @throws TesseraError `ERR_PIPELINE_INVALID` when a job `needs` a job that rules left out and the
 *   need is not `optional: true` (GitLab refuses such a pipeline too).
 */
export function planPipeline(
  spec: PipelineSpec,
  variables: Readonly<Record<string, string>>,
  files: PlanFiles = UNKNOWN_FILES,
): PipelinePlan {
  const clauses = new FileClauses(files, spec.file);
  const plan = planWith(spec, variables, clauses);
  // A caller that reads no other project: each `exists:project` it would need says so where it is.
  for (const { project, at } of clauses.missing.values())
    clauses.fail(at, `cannot look in project "${project}": other projects are not read here`);
  if (clauses.errors.length > 0) throw pipelineInvalid(spec.file, clauses.errors, []);
  return plan;
}

/**
 * Reads the files of another project at a ref for `rules:exists:project` (`ref` `null`: its
 * default branch), with the access of the pipeline's user.
 *
 * @throws IncludeSourceError whose message says why the files cannot be read (a project the user
 *   may not read reads as a missing one); it becomes the rule's configuration error. Any other
 *   error is not the configuration's and goes up as it is.
 */
export type ReadProjectFiles = (project: string, ref: string | null) => Promise<readonly string[]>;

/**
 * {@link planPipeline} for a configuration whose `rules:exists` may name other projects: plans,
 * reads the (project, ref) listings the evaluated rules asked for and were missing, and plans
 * again until every rule it reached had its listing. Each (project, ref) is read at most once, and
 * only when a rule that is reached names it (as GitLab, which reads while it evaluates).
 *
 * @throws TesseraError `ERR_PIPELINE_INVALID` as {@link planPipeline}, and when a project or ref
 *   of a reached `rules:exists` cannot be read (the error is at its `project` key).
 */
export async function planPipelineReading(
  spec: PipelineSpec,
  variables: Readonly<Record<string, string>>,
  files: PlanFiles,
  readProject: ReadProjectFiles,
): Promise<PipelinePlan> {
  const projectPaths = new Map(files.projectPaths ?? []);
  for (;;) {
    const clauses = new FileClauses({ ...files, projectPaths }, spec.file);
    let plan: PipelinePlan | null = null;
    let failure: unknown = null;
    try {
      plan = planWith(spec, variables, clauses);
    } catch (error) {
      failure = error;
    }
    if (clauses.missing.size === 0) {
      if (failure !== null) throw failure;
      if (clauses.errors.length > 0) throw pipelineInvalid(spec.file, clauses.errors, []);
      if (plan !== null) return plan;
    }
    // Every pass reads at least one listing it lacked, so the loop ends.
    for (const [key, { project, ref }] of clauses.missing) {
      try {
        projectPaths.set(key, [...(await readProject(project, ref))].sort());
      } catch (error) {
        if (!(error instanceof IncludeSourceError)) throw error;
        projectPaths.set(key, { error: error.message });
      }
    }
  }
}

function planWith(
  spec: PipelineSpec,
  variables: Readonly<Record<string, string>>,
  clauses: FileClauses,
): PipelinePlan {
  let pipelineVariables: Record<string, string> = { ...spec.variables };
  let autoCancel = spec.autoCancel;
  if (spec.workflowRules !== null) {
    const rule = firstMatch(spec.workflowRules, [pipelineVariables, variables], clauses);
    if (rule === null || rule.when === 'never')
      return { created: false, variables: pipelineVariables, jobs: [] };
    pipelineVariables = { ...pipelineVariables, ...rule.variables };
    // workflow:rules:auto_cancel replaces what it writes of workflow:auto_cancel (GitLab 16.10).
    if (rule.autoCancel !== undefined)
      autoCancel = { ...(autoCancel ?? DEFAULT_AUTO_CANCEL), ...rule.autoCancel };
  }
  const selected: {
    job: JobSpec;
    needs: readonly NeedSpec[] | null;
    planned: Omit<PlannedJob, 'needs' | 'artifactsFrom'>;
  }[] = [];
  for (const job of spec.jobs) {
    const scope = [pipelineVariables, job.variables, variables];
    const decision = decide(job, scope, variables, clauses);
    if (decision === null) continue;
    selected.push({
      job,
      // rules:needs replace the job's needs when their rule matches (GitLab).
      needs: decision.needs ?? job.needs,
      planned: {
        name: job.name,
        stage: job.stage,
        stageIndex: job.stageIndex,
        when: decision.when,
        allowFailure: decision.allowFailure,
        allowFailureExitCodes: decision.exitCodes,
        beforeScript: job.beforeScript,
        script: job.script,
        afterScript: job.afterScript,
        ...(job.hooks ? { hooks: job.hooks } : {}),
        variables: { ...job.variables, ...decision.variables },
        timeoutSeconds: job.timeoutSeconds,
        retry: job.retry,
        tags: job.tags,
        environment: job.environment,
        idTokens: job.idTokens,
        secrets: job.secrets,
        interruptible: decision.interruptible ?? job.interruptible,
        ...(decision.when === 'manual' && job.manualConfirmation !== undefined
          ? { manualConfirmation: job.manualConfirmation }
          : {}),
        ...(job.image ? { image: job.image } : {}),
        ...(job.services?.length ? { services: job.services } : {}),
        artifacts: job.artifacts,
        cache: job.cache,
        parallel: job.parallel,
        coverage: job.coverage,
        inheritVariables: job.inheritVariables,
        startInSeconds: decision.startInSeconds ?? job.startInSeconds,
        resourceGroup: job.resourceGroup,
        release: job.release,
        ...crossNeedsOf(job, { ...pipelineVariables, ...job.variables, ...decision.variables, ...variables }),
        ...(job.trigger ? { trigger: job.trigger } : {}),
        ...(autoCancel === undefined ? {} : { autoCancel }),
        line: job.line,
      },
    });
  }
  selected.sort((a, b) => a.job.stageIndex - b.job.stageIndex || a.job.index - b.job.index);
  const present = new Set(selected.map(({ job }) => job.name));
  // A job of the pipeline's first stage has no earlier stage to download from: saying so here
  // spares its claim a read of the pipeline's jobs.
  const firstStage = selected[0]?.job.stageIndex;
  const errors: ConfigProblem[] = [];
  const jobs = selected.map(({ job, needs: needSpecs, planned }): PlannedJob => {
    const artifactsFrom =
      job.dependencies !== null
        ? job.dependencies.filter((name) => present.has(name))
        : needSpecs !== null
          ? needSpecs.filter((need) => need.artifacts && present.has(need.job)).map((need) => need.job)
          : job.stageIndex === firstStage
            ? []
            : null;
    if (needSpecs === null) return { ...planned, needs: null, artifactsFrom };
    const needs: string[] = [];
    needSpecs.forEach((need, index) => {
      if (present.has(need.job)) needs.push(need.job);
      else if (!need.optional) {
        errors.push({
          path: `jobs.${job.name}.needs[${index}]`,
          message: `"${need.job}" is not in this pipeline (its rules leave it out for this ref); add optional: true to the need or align the rules`,
          line: need.line ?? job.line,
        });
      }
    });
    return { ...planned, needs, artifactsFrom };
  });
  // A rule that still waits for a listing may have left a needed job out for now.
  if (errors.length > 0 && clauses.missing.size === 0)
    throw pipelineInvalid(spec.file, [...clauses.errors, ...errors], []);
  return { created: true, variables: pipelineVariables, jobs };
}

/** The `crossNeeds` of a planned job: entries that download artifacts, with variables expanded (GitLab). */
function crossNeedsOf(
  job: JobSpec,
  scope: Readonly<Record<string, string>>,
): { crossNeeds?: readonly PlannedCrossNeed[] } {
  const crossNeeds = (job.crossNeeds ?? [])
    .filter((need) => need.artifacts)
    .map((need) => ({
      source: need.source,
      from: expandVariables(need.from, scope),
      job: expandVariables(need.job, scope),
      ref: need.ref === null ? null : expandVariables(need.ref, scope),
    }));
  return crossNeeds.length === 0 ? {} : { crossNeeds };
}

function firstMatch(rules: readonly RuleSpec[], scope: VariableScope, clauses: FileClauses): RuleSpec | null {
  for (const rule of rules) {
    if (rule.if !== null && !evaluateExpression(rule.if, scope)) continue;
    if (rule.changes != null && !clauses.changed(rule.changes, scope)) continue;
    if (rule.exists != null && !clauses.exists(rule.exists, scope)) continue;
    return rule;
  }
  return null;
}

/**
 * What `rules:changes`, `only/except:changes` and `rules:exists` compare against, worked out by the
 * caller (git) before planning.
 */
export interface PlanFiles {
  /**
   * The paths changed, by `compare_to` ref (`''` for the pipeline's own base). `null`, or a ref not
   * in the map, means there is nothing to compare with, and `changes` is true (GitLab: pipelines
   * without a push, such as web, API, schedule and tag pipelines, and a branch's first push).
   */
  readonly changedPaths: ReadonlyMap<string, readonly string[] | null>;
  /** Every path of the pipeline's commit; `null` when unknown (then `exists` is true). */
  readonly repositoryPaths: readonly string[] | null;
  /**
   * The files of other projects for `rules:exists:project`, by {@link projectFilesKey}: every path
   * at that ref, or why they cannot be read.
   */
  readonly projectPaths?: ReadonlyMap<string, ProjectPaths>;
}

/** The files of another project at a ref (sorted), or why they cannot be read. */
export type ProjectPaths = readonly string[] | { readonly error: string };

/** The key of {@link PlanFiles.projectPaths} for a project and ref (`null`: the default branch). */
export function projectFilesKey(project: string, ref: string | null): string {
  return `${project}\u0000${ref ?? ''}`;
}

const UNKNOWN_FILES: PlanFiles = { changedPaths: new Map(), repositoryPaths: null };

/** Where an `exists:project` is written, for its errors. */
type ExistsPlace = NonNullable<ExistsSpec['at']>;

/** Evaluates the file clauses of rules and policies, compiling each glob once per plan. */
class FileClauses {
  private readonly globs = new Map<string, RE2JS | null>();
  /** Listings of other projects that reached rules asked for and `files` lacks, by key. */
  readonly missing = new Map<string, { project: string; ref: string | null; at: ExistsPlace }>();
  /** Errors of reached `exists:project` clauses (one per place). */
  readonly errors: ConfigProblem[] = [];
  private readonly failed = new Set<string>();

  constructor(
    private readonly files: PlanFiles,
    private readonly mainFile: string,
  ) {}

  /** Records an error at an `exists:project`, once per place. */
  fail(at: ExistsPlace, message: string): void {
    const key = `${at.file ?? ''}\u0000${at.path}\u0000${at.line}`;
    if (this.failed.has(key)) return;
    this.failed.add(key);
    const where = at.file !== undefined && at.file !== this.mainFile ? ` (in ${at.file})` : '';
    this.errors.push({ path: at.path, message: `${message}${where}`, line: at.line });
  }

  changed(changes: ChangesSpec, scope: VariableScope): boolean {
    const paths = this.files.changedPaths.get(changes.compareTo ?? '') ?? null;
    if (paths === null) return true;
    const globs = this.compile(changes.paths, scope);
    return paths.some((path) => globs.some((glob) => glob.matcher(path).matches()));
  }

  exists(exists: ExistsSpec, scope: VariableScope): boolean {
    if (exists.project != null) return this.existsElsewhere(exists, exists.project, scope);
    const paths = this.files.repositoryPaths;
    if (paths === null) return true;
    return existsIn(paths, this.compile(exists.paths, scope));
  }

  /**
   * `exists` with `project` (GitLab 17.0): the files of that project at `ref` (its default branch
   * when none), read with the pipeline user's access; variables in both are expanded. No paths:
   * false without reading, as GitLab.
   */
  private existsElsewhere(exists: ExistsSpec, written: string, scope: VariableScope): boolean {
    if (exists.paths.length === 0) return false;
    const variables = variablesOf(scope);
    const project = expandVariables(written, variables);
    const ref = exists.ref == null ? null : expandVariables(exists.ref, variables);
    const at = exists.at ?? { path: 'rules.exists.project', line: null };
    const key = projectFilesKey(project, ref);
    const paths = this.files.projectPaths?.get(key);
    if (paths === undefined) {
      this.missing.set(key, { project, ref, at });
      // Until the listing is read the clause holds, so no later rule is reached (and read) early.
      return true;
    }
    if ('error' in paths) {
      // A value from variables is named as written, so no variable (masked or not) shows.
      const named = written.includes('$') ? `"${written}" (with its variables expanded)` : `"${project}"`;
      this.fail(at, `rules:exists cannot look in project ${named}: ${paths.error}`);
      return false;
    }
    return existsIn(paths, this.compile(exists.paths, scope));
  }

  private compile(patterns: readonly string[], scope: VariableScope): RE2JS[] {
    const variables = variablesOf(scope);
    const compiled: RE2JS[] = [];
    for (const pattern of patterns) {
      const text = pattern.includes('$') ? expandVariables(pattern, variables) : pattern;
      let glob = this.globs.get(text);
      if (glob === undefined) {
        const result = compileGlob(text.replace(/^\/+/, ''));
        glob = 'error' in result ? null : result;
        this.globs.set(text, glob);
      }
      if (glob !== null) compiled.push(glob);
    }
    return compiled;
  }
}

/** The variables of a scope as one record; a null prototype keeps a variable named __proto__ a plain entry. */
function variablesOf(scope: VariableScope): Record<string, string> {
  return Array.isArray(scope)
    ? Object.assign(Object.create(null), ...scope)
    : (scope as Record<string, string>);
}

interface Decision {
  needs?: readonly NeedSpec[] | null;
  /** The matching rule's `interruptible`, which replaces the job's (absent: the rule has none). */
  interruptible?: boolean;
  startInSeconds?: number | null;
  when: JobWhen;
  allowFailure: boolean;
  exitCodes: readonly number[];
  variables: Readonly<Record<string, string>>;
}

function decide(
  job: JobSpec,
  scope: VariableScope,
  predefined: Readonly<Record<string, string>>,
  clauses: FileClauses,
): Decision | null {
  if (job.rules !== null) {
    const rule = firstMatch(job.rules, scope, clauses);
    if (rule === null || rule.when === 'never') return null;
    const when = rule.when ?? job.when ?? 'on_success';
    // GitLab: `when: manual` written in a rule defaults to allow_failure false; a job-level
    // `when: manual` keeps its usual default of true even when the job has rules.
    const manualDefault = rule.when === null && job.when === 'manual';
    const exitCodes = rule.allowFailureExitCodes ?? job.allowFailureExitCodes;
    return {
      needs: rule.needs ?? null,
      ...(rule.interruptible === undefined ? {} : { interruptible: rule.interruptible }),
      startInSeconds: rule.startInSeconds ?? null,
      when,
      allowFailure: rule.allowFailure ?? job.allowFailure ?? manualDefault,
      exitCodes,
      variables: rule.variables,
    };
  }
  const only = job.only ?? {
    refs: [
      { kind: 'keyword', keyword: 'branches' },
      { kind: 'keyword', keyword: 'tags' },
    ],
    variables: null,
  };
  if (!policyMatches(only, scope, predefined, 'only', clauses)) return null;
  if (job.except !== null && policyMatches(job.except, scope, predefined, 'except', clauses)) return null;
  const when = job.when ?? 'on_success';
  return {
    when,
    // A manual job outside rules may fail (or never run) without blocking the pipeline, as GitLab.
    allowFailure: job.allowFailure ?? when === 'manual',
    exitCodes: job.allowFailureExitCodes,
    variables: {},
  };
}

const SOURCE_KEYWORDS: Readonly<Record<string, readonly string[]>> = {
  api: ['api'],
  external: ['external'],
  pipelines: ['pipeline', 'parent_pipeline'],
  pushes: ['push'],
  schedules: ['schedule'],
  triggers: ['trigger'],
  web: ['web'],
  merge_requests: ['merge_request_event'],
  chat: ['chat'],
  external_pull_requests: ['external_pull_request_event'],
};

/**
 * `only` matches when every condition it lists matches (refs: any entry; variables: any
 * expression); `except` excludes when any condition it lists matches, as GitLab.
 */
function policyMatches(
  policy: PolicySpec,
  scope: VariableScope,
  predefined: Readonly<Record<string, string>>,
  mode: 'only' | 'except',
  clauses: FileClauses,
): boolean {
  const checks: boolean[] = [];
  if (policy.changes != null) checks.push(clauses.changed(policy.changes, scope));
  if (policy.refs !== null) checks.push(policy.refs.some((ref) => refMatches(ref, predefined)));
  if (policy.variables !== null)
    checks.push(policy.variables.some((expression) => evaluateExpression(expression, scope)));
  if (checks.length === 0) return mode === 'only';
  return mode === 'only' ? checks.every(Boolean) : checks.some(Boolean);
}

function refMatches(
  ref: NonNullable<PolicySpec['refs']>[number],
  predefined: Readonly<Record<string, string>>,
): boolean {
  const source = predefined.CI_PIPELINE_SOURCE ?? 'push';
  const refName = predefined.CI_COMMIT_REF_NAME ?? '';
  const isTag = predefined.CI_COMMIT_TAG !== undefined;
  switch (ref.kind) {
    case 'keyword':
      if (ref.keyword === 'branches')
        return !isTag && source !== 'merge_request_event' && source !== 'external_pull_request_event';
      if (ref.keyword === 'tags') return isTag;
      return (SOURCE_KEYWORDS[ref.keyword] ?? []).includes(source);
    case 'name': {
      // `name@group/project` limits the ref to one project.
      const at = ref.name.indexOf('@');
      if (at >= 0 && ref.name.slice(at + 1) !== (predefined.CI_PROJECT_PATH ?? '')) return false;
      return (at >= 0 ? ref.name.slice(0, at) : ref.name) === refName;
    }
    case 'pattern':
      return ref.pattern.regex.matcher(refName).find();
  }
}
