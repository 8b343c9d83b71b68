import type { ConfigProblem } from './config-problem.js';
import { evaluateExpression, type VariableScope } from './expression/evaluate.js';
import { pipelineInvalid } from './load.js';
import type {
  EnvironmentSpec,
  IdTokenSpec,
  JobSpec,
  JobWhen,
  PipelineSpec,
  PolicySpec,
  RuleSpec,
  SecretSpec,
} from './spec.js';

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
  /** Job and matching-rule variables (not the global ones, which are on the plan). */
  readonly variables: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number | null;
  readonly retry: { readonly max: number; readonly when: readonly string[] };
  readonly tags: readonly string[];
  readonly environment: EnvironmentSpec | null;
  readonly idTokens: Readonly<Record<string, IdTokenSpec>>;
  readonly secrets: Readonly<Record<string, SecretSpec>>;
  readonly interruptible: boolean;
  /** For a job `parallel` made: `CI_NODE_INDEX` and `CI_NODE_TOTAL` (absent in older stored jobs). */
  readonly parallel?: { readonly index: number; readonly total: number } | null;
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
export function planPipeline(spec: PipelineSpec, variables: Readonly<Record<string, string>>): PipelinePlan {
  let pipelineVariables: Record<string, string> = { ...spec.variables };
  if (spec.workflowRules !== null) {
    const rule = firstMatch(spec.workflowRules, [pipelineVariables, variables]);
    if (rule === null || rule.when === 'never')
      return { created: false, variables: pipelineVariables, jobs: [] };
    pipelineVariables = { ...pipelineVariables, ...rule.variables };
  }
  const selected: { job: JobSpec; planned: Omit<PlannedJob, 'needs'> }[] = [];
  for (const job of spec.jobs) {
    const scope = [pipelineVariables, job.variables, variables];
    const decision = decide(job, scope, variables);
    if (decision === null) continue;
    selected.push({
      job,
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
        variables: { ...job.variables, ...decision.variables },
        timeoutSeconds: job.timeoutSeconds,
        retry: job.retry,
        tags: job.tags,
        environment: job.environment,
        idTokens: job.idTokens,
        secrets: job.secrets,
        interruptible: job.interruptible,
        parallel: job.parallel,
        line: job.line,
      },
    });
  }
  selected.sort((a, b) => a.job.stageIndex - b.job.stageIndex || a.job.index - b.job.index);
  const present = new Set(selected.map(({ job }) => job.name));
  const errors: ConfigProblem[] = [];
  const jobs = selected.map(({ job, planned }): PlannedJob => {
    if (job.needs === null) return { ...planned, needs: null };
    const needs: string[] = [];
    job.needs.forEach((need, index) => {
      if (present.has(need.job)) needs.push(need.job);
      else if (!need.optional) {
        errors.push({
          path: `jobs.${job.name}.needs[${index}]`,
          message: `"${need.job}" is not in this pipeline (its rules leave it out for this ref); add optional: true to the need or align the rules`,
          line: need.line ?? job.line,
        });
      }
    });
    return { ...planned, needs };
  });
  if (errors.length > 0) throw pipelineInvalid(spec.file, errors, []);
  return { created: true, variables: pipelineVariables, jobs };
}

function firstMatch(rules: readonly RuleSpec[], scope: VariableScope): RuleSpec | null {
  for (const rule of rules) {
    if (rule.if === null || evaluateExpression(rule.if, scope)) return rule;
  }
  return null;
}

interface Decision {
  when: JobWhen;
  allowFailure: boolean;
  exitCodes: readonly number[];
  variables: Readonly<Record<string, string>>;
}

function decide(
  job: JobSpec,
  scope: VariableScope,
  predefined: Readonly<Record<string, string>>,
): Decision | null {
  if (job.rules !== null) {
    const rule = firstMatch(job.rules, scope);
    if (rule === null || rule.when === 'never') return null;
    const when = rule.when ?? job.when ?? 'on_success';
    // GitLab: `when: manual` written in a rule defaults to allow_failure false; a job-level
    // `when: manual` keeps its usual default of true even when the job has rules.
    const manualDefault = rule.when === null && job.when === 'manual';
    const exitCodes = rule.allowFailureExitCodes ?? job.allowFailureExitCodes;
    return {
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
  if (!policyMatches(only, scope, predefined, 'only')) return null;
  if (job.except !== null && policyMatches(job.except, scope, predefined, 'except')) return null;
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
): boolean {
  const checks: boolean[] = [];
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
