import type { ProblemList } from '../config-problem.js';
import { PIPELINE_LIMITS } from '../limits.js';
import { setOwn } from '../set-own.js';
import type { CrossNeedSpec, JobSpec, NeedSpec } from '../spec.js';
import { describeNode, keyPosition, type MapNode, type TreeNode } from '../yaml-tree.js';
import { readAllowFailure } from './allow-failure.js';
import { readArtifacts } from './artifacts.js';
import { readCache } from './cache.js';
import { readCoverage } from './coverage.js';
import { readEnvironment } from './environment.js';
import { readHooks } from './hooks.js';
import { readIdTokens } from './id-tokens.js';
import { readImage, readServices } from './image.js';
import { inherits, readInherit } from './inherit.js';
import { type DefaultSpec, readRetry, readTimeout } from './job-settings.js';
import { matrixJobName, type ParallelSpec, readMatrix, readParallel } from './parallel.js';
import {
  checkKeys,
  readBoolean,
  readScript,
  readString,
  readStringList,
  readVariables,
} from './read-value.js';
import { readRelease } from './release.js';
import { readJobWhen, readPolicy, readRules, readStartIn } from './rules.js';
import { readSecrets } from './secrets.js';
import { BRIDGE_JOB_KEYS, readTrigger } from './trigger.js';

/** The job keywords the schema reads. */
export const JOB_KEYS = new Set([
  'stage',
  'script',
  'before_script',
  'after_script',
  'hooks',
  'variables',
  'rules',
  'only',
  'except',
  'when',
  'allow_failure',
  'needs',
  'timeout',
  'retry',
  'tags',
  'environment',
  'id_tokens',
  'secrets',
  'interruptible',
  'image',
  'services',
  'artifacts',
  'cache',
  'dependencies',
  'parallel',
  'coverage',
  'inherit',
  'start_in',
  'resource_group',
  'release',
  'trigger',
  'manual_confirmation',
]);

// GitLab job keywords Tessera knows but does not run; named as such in errors.
export const UNSUPPORTED_JOB_KEYS = new Set([
  'pages',
  'identity',
  'run',
  'dast_configuration',
  'type',
  'publish',
]);

/** Everything a job's schema check needs besides the job itself. */
export interface JobContext {
  readonly stages: readonly string[];
  /** Position of each stage in `stages`. */
  readonly stageIndex: ReadonlyMap<string, number>;
  readonly defaults: DefaultSpec;
  readonly problems: ProblemList;
  readonly index: number;
}

/**
 * Schema pass for one visible job (after `extends` and `!reference`): checks every keyword and
 * builds its {@link JobSpec}, filling in `default`. A job with errors still gets a (partial) spec so
 * that the graph pass can check its `needs`; `ok` says whether any error was recorded for it.
 */
export function readJob(
  name: string,
  job: MapNode,
  context: JobContext,
): { spec: JobSpec; ok: boolean; parallel: ParallelSpec | null } {
  const { problems } = context;
  const base = `jobs.${name}`;
  const inheritNode = job.entries.get('inherit');
  const inherit = inheritNode === undefined ? null : readInherit(inheritNode, `${base}.inherit`, problems);
  const defaults = inherit === null ? context.defaults : inheritedDefaults(context.defaults, inherit.default);
  const before = problems.errors.length;
  checkKeys(job, base, JOB_KEYS, problems, UNSUPPORTED_JOB_KEYS);
  const triggerNode = job.entries.get('trigger');
  const trigger = triggerNode === undefined ? null : readTrigger(triggerNode, `${base}.trigger`, problems);
  if (triggerNode !== undefined) checkBridgeKeys(job, base, problems);
  const get = (key: string): TreeNode | undefined => job.entries.get(key);
  const path = (key: string): string => `${base}.${key}`;

  const scriptNode = get('script');
  let script: string[] = [];
  // A trigger job has no script in GitLab; its own error names the keyword.
  if (scriptNode === undefined && triggerNode === undefined) {
    problems.error(
      path('script'),
      'is required: every job needs script (a command or a list of commands)',
      job,
    );
  } else if (scriptNode !== undefined && triggerNode === undefined) {
    script = readScript(scriptNode, path('script'), problems) ?? [];
    if (scriptNode.kind === 'seq' && script.length === 0 && scriptNode.items.length === 0) {
      problems.error(path('script'), 'must not be empty', scriptNode);
    }
  }
  const beforeNode = get('before_script');
  const beforeScript =
    beforeNode === undefined
      ? (defaults.beforeScript ?? [])
      : (readScript(beforeNode, path('before_script'), problems) ?? []);
  const afterNode = get('after_script');
  const afterScript =
    afterNode === undefined
      ? (defaults.afterScript ?? [])
      : (readScript(afterNode, path('after_script'), problems) ?? []);
  const hooksNode = get('hooks');
  const hooks =
    hooksNode === undefined ? (defaults.hooks ?? null) : readHooks(hooksNode, path('hooks'), problems);

  const stageNode = get('stage');
  const stage = stageNode === undefined ? 'test' : (readString(stageNode, path('stage'), problems) ?? 'test');
  const stageIndex = context.stageIndex.get(stage) ?? -1;
  if (stageIndex < 0) {
    const declared = context.stages.filter((candidate) => candidate !== '.pre' && candidate !== '.post');
    problems.error(
      path('stage'),
      stageNode === undefined
        ? `the default stage "test" is not in stages (${declared.join(', ')}); set stage: or add test to stages`
        : `stage "${stage}" is not declared; add it to stages: [${[...declared, stage].join(', ')}]`,
      stageNode ?? job,
    );
  }

  const variablesNode = get('variables');
  const variables =
    variablesNode === undefined ? {} : readVariables(variablesNode, path('variables'), problems);

  const rulesNode = get('rules');
  const rules =
    rulesNode === undefined ? null : readRules(rulesNode, path('rules'), problems, { workflow: false });
  const onlyNode = get('only');
  const exceptNode = get('except');
  if (rulesNode !== undefined && (onlyNode !== undefined || exceptNode !== undefined)) {
    problems.error(
      path('rules'),
      'rules cannot be combined with only/except in one job; move the conditions into rules',
      keyPosition(job, 'rules'),
    );
  }
  const only = onlyNode === undefined ? null : readPolicy(onlyNode, path('only'), problems);
  const except = exceptNode === undefined ? null : readPolicy(exceptNode, path('except'), problems);

  const whenNode = get('when');
  const when = whenNode === undefined ? null : readJobWhen(whenNode, path('when'), problems);
  const startInNode = get('start_in');
  const startInSeconds =
    startInNode === undefined ? null : readStartIn(startInNode, path('start_in'), problems);
  if (when === 'delayed' && startInNode === undefined)
    problems.error(path('start_in'), 'is required with when: delayed: write start_in: 30 minutes', job);
  if (when !== 'delayed' && startInNode !== undefined && whenNode !== undefined)
    problems.error(path('start_in'), 'goes with when: delayed only', startInNode);
  const confirmationNode = get('manual_confirmation');
  const manualConfirmation =
    confirmationNode === undefined
      ? null
      : readString(confirmationNode, path('manual_confirmation'), problems, 'a confirmation message');
  // GitLab accepts it on any job and uses it only when the job is manual: say so instead of refusing.
  if (
    manualConfirmation !== null &&
    when !== 'manual' &&
    !(rules ?? []).some((rule) => rule.when === 'manual')
  )
    problems.warn(
      path('manual_confirmation'),
      'has no effect: the job is not when: manual (write when: manual on the job or in a rule)',
      confirmationNode ?? null,
    );
  const resourceGroupNode = get('resource_group');
  const resourceGroup =
    resourceGroupNode === undefined ? null : readString(resourceGroupNode, path('resource_group'), problems);
  // `$`, `{`, `}` and `%` let variable references through: the key is expanded when the pipeline is created.
  if (resourceGroup !== null && !/^[A-Za-z0-9_.\-/ ${}%]{1,255}$/.test(resourceGroup))
    problems.error(
      path('resource_group'),
      'a resource group is 1 to 255 letters, digits, spaces and - _ . / $ { } %',
      resourceGroupNode,
    );
  const releaseNode = get('release');
  const release = releaseNode === undefined ? null : readRelease(releaseNode, path('release'), problems);
  const failureNode = get('allow_failure');
  const failure =
    failureNode === undefined ? null : readAllowFailure(failureNode, path('allow_failure'), problems);

  const needsNode = get('needs');
  const crossNeeds: CrossNeedSpec[] = [];
  const listedNeeds =
    needsNode === undefined ? null : readNeeds(needsNode, path('needs'), problems, crossNeeds);
  // Only needs:project/needs:pipeline entries: the job still waits for its earlier stages (GitLab
  // schedules by `needs` only for jobs of this pipeline).
  const needs =
    listedNeeds !== null && listedNeeds.length === 0 && crossNeeds.length > 0 ? null : listedNeeds;

  const timeoutNode = get('timeout');
  const timeoutSeconds =
    timeoutNode === undefined
      ? (defaults.timeoutSeconds ?? null)
      : readTimeout(timeoutNode, path('timeout'), problems);
  const retryNode = get('retry');
  const retry = (retryNode === undefined
    ? defaults.retry
    : readRetry(retryNode, path('retry'), problems)) ?? { max: 0, when: ['always'] };
  const tagsNode = get('tags');
  const tags =
    tagsNode === undefined ? (defaults.tags ?? []) : (readStringList(tagsNode, path('tags'), problems) ?? []);
  const environmentNode = get('environment');
  const environment =
    environmentNode === undefined ? null : readEnvironment(environmentNode, path('environment'), problems);
  const idTokensNode = get('id_tokens');
  const idTokens =
    idTokensNode === undefined
      ? (defaults.idTokens ?? {})
      : readIdTokens(idTokensNode, path('id_tokens'), problems);
  const interruptibleNode = get('interruptible');
  const interruptible =
    interruptibleNode === undefined
      ? (defaults.interruptible ?? false)
      : (readBoolean(interruptibleNode, path('interruptible'), problems) ?? false);

  const imageNode = get('image');
  const image =
    imageNode === undefined ? (defaults.image ?? null) : readImage(imageNode, path('image'), problems);
  const servicesNode = get('services');
  const services =
    servicesNode === undefined
      ? (defaults.services ?? [])
      : (readServices(servicesNode, path('services'), problems) ?? []);
  const artifactsNode = get('artifacts');
  const artifacts =
    artifactsNode === undefined
      ? (defaults.artifacts ?? null)
      : readArtifacts(artifactsNode, path('artifacts'), problems);
  const cacheNode = get('cache');
  const cache =
    cacheNode === undefined ? (defaults.cache ?? []) : readCache(cacheNode, path('cache'), problems);
  const dependenciesNode = get('dependencies');
  const dependencies =
    dependenciesNode === undefined
      ? null
      : dependenciesNode.kind === 'scalar' && dependenciesNode.value === null
        ? []
        : readStringList(dependenciesNode, path('dependencies'), problems);
  const coverageNode = get('coverage');
  const coverage = coverageNode === undefined ? null : readCoverage(coverageNode, path('coverage'), problems);
  const parallelNode = get('parallel');
  const parallel = parallelNode === undefined ? null : readParallel(parallelNode, path('parallel'), problems);

  const secretsNode = get('secrets');
  const secrets = secretsNode === undefined ? {} : readSecrets(secretsNode, path('secrets'), problems);
  const tokenNames = Object.keys(idTokens);
  for (const [secretName, secret] of Object.entries(secrets)) {
    const at = secretsNode?.kind === 'map' ? keyPosition(secretsNode, secretName) : job;
    if (secret.token === null) {
      if (tokenNames.length === 0) {
        problems.error(
          `${path('secrets')}.${secretName}`,
          'Vault secrets need an ID token to log in: add id_tokens: { VAULT_ID_TOKEN: { aud: https://vault.example.com } }',
          at,
        );
      } else {
        // GitLab logs in with the first token when none is named; make that explicit for the runner.
        setOwn(secrets, secretName, { ...secret, token: `$${tokenNames[0]}` });
      }
    } else {
      const tokenName = secret.token.replace(/^\$\{?/, '').replace(/\}$/, '');
      if (!tokenNames.includes(tokenName)) {
        problems.error(
          `${path('secrets')}.${secretName}.token`,
          `"${secret.token}" is not one of this job's id_tokens (${tokenNames.join(', ') || 'none'})`,
          at,
        );
      }
    }
  }

  const spec: JobSpec = {
    name,
    stage,
    stageIndex,
    index: context.index,
    when,
    allowFailure: failure === null ? null : failure.allowFailure,
    allowFailureExitCodes: failure?.exitCodes ?? [],
    needs,
    ...(crossNeeds.length > 0 ? { crossNeeds } : {}),
    beforeScript,
    script,
    afterScript,
    // A job's own hooks replace default:hooks entirely, as every default keyword; a trigger job
    // runs nothing on a runner.
    ...(hooks !== null && hooks.preGetSourcesScript.length > 0 && triggerNode === undefined ? { hooks } : {}),
    variables,
    timeoutSeconds,
    retry,
    tags,
    environment,
    idTokens,
    secrets,
    interruptible,
    ...(manualConfirmation === null ? {} : { manualConfirmation }),
    ...(image ? { image } : {}),
    ...(services.length > 0 ? { services } : {}),
    artifacts,
    cache,
    dependencies,
    rules,
    only,
    except,
    parallel: null,
    coverage,
    inheritVariables: inherit?.variables ?? true,
    startInSeconds,
    resourceGroup,
    release,
    ...(trigger ? { trigger } : {}),
    line: job.line,
  };
  return { spec, ok: problems.errors.length === before, parallel };
}

/**
 * Reads `needs` (of a job or of a rule): job names, `{ job, optional, parallel: { matrix } }`, and,
 * when `cross` is given (a job's own `needs`, not a rule's), `needs:project`
 * (`{ project, job, ref, artifacts }`) and `needs:pipeline` (`{ pipeline, job, artifacts }`) entries,
 * which go to `cross` instead of the answer.
 */
export function readNeeds(
  node: TreeNode,
  path: string,
  problems: ProblemList,
  cross?: CrossNeedSpec[],
): NeedSpec[] | null {
  if (node.kind !== 'seq') {
    problems.error(
      path,
      `must be a list of job names (or [] to start at once), not ${describeNode(node)}`,
      node,
    );
    return null;
  }
  if (node.items.length > PIPELINE_LIMITS.maxNeeds) {
    problems.error(
      path,
      `a job may need at most ${PIPELINE_LIMITS.maxNeeds} jobs, not ${node.items.length}`,
      node,
    );
    return null;
  }
  const needs: NeedSpec[] = [];
  node.items.forEach((item, index) => {
    const where = `${path}[${index}]`;
    if (item.kind === 'scalar') {
      const job = readString(item, where, problems, 'a job name');
      if (job !== null) needs.push({ job, optional: false, artifacts: true, line: item.line });
      return;
    }
    if (item.kind !== 'map') {
      problems.error(where, `must be a job name or { job, optional }, not ${describeNode(item)}`, item);
      return;
    }
    if (cross !== undefined && (item.entries.has('project') || item.entries.has('pipeline'))) {
      const need = readCrossNeed(item, where, problems);
      if (need !== null) cross.push(need);
      return;
    }
    checkKeys(
      item,
      where,
      new Set(['job', 'optional', 'artifacts', 'parallel']),
      problems,
      new Set(['pipeline', 'project', 'ref']),
    );
    const jobNode = item.entries.get('job');
    if (jobNode === undefined) {
      problems.error(`${where}.job`, 'is required: write { job: build }', item);
      return;
    }
    const job = readString(jobNode, `${where}.job`, problems, 'a job name');
    const optionalNode = item.entries.get('optional');
    const optional =
      optionalNode === undefined
        ? false
        : (readBoolean(optionalNode, `${where}.optional`, problems) ?? false);
    const artifactsNode = item.entries.get('artifacts');
    const artifacts =
      artifactsNode === undefined
        ? true
        : (readBoolean(artifactsNode, `${where}.artifacts`, problems) ?? true);
    if (job === null) return;
    const parallel = item.entries.get('parallel');
    if (parallel === undefined) {
      needs.push({ job, optional, artifacts, line: item.line });
      return;
    }
    // needs:parallel:matrix names some jobs of a matrix, by GitLab's names for them.
    const matrix = parallel.kind === 'map' ? parallel.entries.get('matrix') : undefined;
    if (parallel.kind !== 'map' || matrix === undefined || parallel.entries.size !== 1) {
      problems.error(
        `${where}.parallel`,
        'must be { matrix: [{ VARIABLE: value }] } naming jobs of the matrix',
        parallel,
      );
      return;
    }
    for (const combination of readMatrix(matrix, `${where}.parallel.matrix`, problems) ?? []) {
      needs.push({ job: matrixJobName(job, combination), optional, artifacts, line: item.line });
    }
  });
  const seen = new Set<string>();
  for (const need of needs) {
    if (seen.has(need.job)) problems.error(path, `"${need.job}" is listed twice`, node);
    seen.add(need.job);
  }
  return needs;
}

/** One `needs:project` or `needs:pipeline` entry, as GitLab reads it. */
function readCrossNeed(item: MapNode, where: string, problems: ProblemList): CrossNeedSpec | null {
  const source = item.entries.has('project') ? 'project' : 'pipeline';
  if (source === 'project' && item.entries.has('pipeline')) {
    problems.error(where, 'names a project or a pipeline, not both', item);
    return null;
  }
  checkKeys(
    item,
    where,
    new Set(source === 'project' ? ['project', 'job', 'ref', 'artifacts'] : ['pipeline', 'job', 'artifacts']),
    problems,
  );
  const required = source === 'project' ? ['project', 'job', 'ref'] : ['pipeline', 'job'];
  const values = new Map<string, string>();
  for (const key of required) {
    const valueNode = item.entries.get(key);
    if (valueNode === undefined) {
      problems.error(
        `${where}.${key}`,
        source === 'project'
          ? 'is required: write { project: group/project, job: build, ref: main }'
          : 'is required: write { pipeline: $PARENT_PIPELINE_ID, job: build }',
        item,
      );
      continue;
    }
    const value = readString(valueNode, `${where}.${key}`, problems);
    if (value !== null && value.trim() === '')
      problems.error(`${where}.${key}`, 'must not be empty', valueNode);
    else if (value !== null) values.set(key, value);
  }
  const artifactsNode = item.entries.get('artifacts');
  const artifacts =
    artifactsNode === undefined ? true : (readBoolean(artifactsNode, `${where}.artifacts`, problems) ?? true);
  const from = values.get(source);
  const job = values.get('job');
  if (from === undefined || job === undefined || (source === 'project' && !values.has('ref'))) return null;
  return { source, from, job, ref: values.get('ref') ?? null, artifacts, line: item.line };
}

/**
 * A trigger (bridge) job runs nothing on a runner: GitLab allows only the keywords that decide
 * when it starts its downstream pipeline and what that pipeline gets.
 */
function checkBridgeKeys(job: MapNode, base: string, problems: ProblemList): void {
  // GitLab's bridges take parallel:matrix (one downstream pipeline per combination), never a number.
  const parallel = job.entries.get('parallel');
  if (parallel?.kind === 'scalar')
    problems.error(
      `${base}.parallel`,
      'a trigger job cannot use parallel: <number>; write parallel: { matrix: [{ NAME: [a, b] }] } for one downstream pipeline per combination',
      keyPosition(job, 'parallel'),
    );
  for (const key of job.entries.keys()) {
    if (BRIDGE_JOB_KEYS.has(key) || !JOB_KEYS.has(key)) continue;
    const why =
      key === 'manual_confirmation'
        ? 'GitLab refuses it there too'
        : 'it starts a pipeline and runs nothing on a runner';
    problems.error(
      `${base}.${key}`,
      `is not allowed in a trigger job: ${why} (its keywords are ${[...BRIDGE_JOB_KEYS].sort().join(', ')})`,
      keyPosition(job, key),
    );
  }
  const when = job.entries.get('when');
  if (when?.kind === 'scalar' && when.value === 'delayed')
    problems.error(
      `${base}.when`,
      'a trigger job cannot be delayed: use on_success, on_failure, always or manual',
      when,
    );
}

const DEFAULT_FIELDS: Record<string, keyof DefaultSpec> = {
  before_script: 'beforeScript',
  after_script: 'afterScript',
  hooks: 'hooks',
  tags: 'tags',
  timeout: 'timeoutSeconds',
  retry: 'retry',
  interruptible: 'interruptible',
  id_tokens: 'idTokens',
  image: 'image',
  services: 'services',
  artifacts: 'artifacts',
  cache: 'cache',
};

/** The `default` keywords `inherit:default` lets the job take. */
function inheritedDefaults(defaults: DefaultSpec, setting: boolean | readonly string[]): DefaultSpec {
  if (setting === true) return defaults;
  const kept: DefaultSpec = {};
  for (const [keyword, field] of Object.entries(DEFAULT_FIELDS)) {
    if (inherits(setting, keyword) && defaults[field] !== undefined)
      Object.assign(kept, { [field]: defaults[field] });
  }
  return kept;
}
