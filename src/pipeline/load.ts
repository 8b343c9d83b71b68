import { isTesseraError, TesseraError } from '../errors.js';
import { warnAboutChildInputs } from './child-inputs.js';
import { applyHeader, headerSpec, parseConfigFile } from './config-file.js';
import { type ConfigProblem, ProblemList } from './config-problem.js';
import { resolveExtends } from './extends.js';
import { deepFreeze } from './freeze.js';
import { checkGraph } from './graph.js';
import { type ListLocalFiles, type ReadLocalFile, resolveIncludes } from './include.js';
import type { FetchRemoteFile } from './include-remote.js';
import type { ChangedPaths, IncludedFile, IncludeSources } from './include-sources.js';
import { readInputDefinitions } from './inputs.js';
import { PIPELINE_LIMITS } from './limits.js';
import type { ParseBudget } from './parse.js';
import { type PipelineInputValues, pipelineInputsNode } from './pipeline-inputs.js';
import { isTopLevelKeyword, resolveReferences } from './reference.js';
import { DEFAULT_AUTO_CANCEL, readAutoCancel } from './schema/auto-cancel.js';
import { readCache } from './schema/cache.js';
import { readImage, readServices } from './schema/image.js';
import { readJob } from './schema/job.js';
import { type DefaultSpec, readDefault } from './schema/job-settings.js';
import { parallelInstances } from './schema/parallel.js';
import { checkKeys, readScript, readString, readStringList, readVariables } from './schema/read-value.js';
import { readRules } from './schema/rules.js';
import type { AutoCancelSpec, JobSpec, NeedSpec, PipelineSpec, RuleSpec } from './spec.js';
import { measureSpecBytes } from './spec-size.js';
import { escapeUnsafeCharacters, UNSAFE_NAME_CHARACTERS, unsafeCharacterIn } from './unsafe-characters.js';
import { WorkBudget, WorkLimitExceeded } from './work-budget.js';
import { describeNode, keyPosition, type MapNode, type TreeNode, treeSize } from './yaml-tree.js';

/** Input of {@link loadPipeline}. */
export interface LoadPipelineInput {
  /** The text of the configuration file. */
  readonly content: string;
  /** Its path in the repository, for messages (default `.gitlab-ci.yml`). */
  readonly file?: string;
  /** Reads `include:local` files by repository path; without it, `include` is an error. */
  readonly readLocalFile?: ReadLocalFile;
  /** Lists the repository's files, for `include:local` wildcards; without it, a wildcard is an error. */
  readonly listLocalFiles?: ListLocalFiles;
  /**
   * Variables known before the configuration is read (predefined and project ones), for
   * `include:rules` and the `expand_vars` input function; none when absent.
   */
  readonly variables?: Readonly<Record<string, string>>;
  /**
   * Projects of this instance (`include:project`, `include:component`) and, for a child
   * pipeline, the parent's artifacts, read with the pipeline user's access; without it those
   * includes are errors.
   */
  readonly includeSources?: IncludeSources;
  /** The pipeline's project (full path) and commit: the context of its `include:local` files. */
  readonly project?: string;
  readonly sha?: string;
  /** Milliseconds now, for the time limit on reading includes (tests freeze it). */
  readonly clock?: () => number;
  /** The pipeline's changed paths, for `include:rules:changes`; without it, those hold. */
  readonly changedPaths?: ChangedPaths;
  /** Fetches `include:remote` files (the coordinator's, with its rules); without it, they are errors. */
  readonly fetchRemoteFile?: FetchRemoteFile;
  /**
   * Values for the file's own `spec:inputs` (the pipelines API's `inputs`, a trigger's, a bridge's
   * `trigger:inputs`), checked as `include:inputs` are; errors about them are on `inputs.<name>`.
   * Absent: every input takes its default.
   */
  readonly inputs?: PipelineInputValues;
}

/** A loaded configuration: the frozen spec and the warnings (ignored keywords, deprecated forms). */
export interface LoadedPipeline {
  readonly spec: PipelineSpec;
  readonly warnings: ConfigProblem[];
  /** The files `include` merged in, in the order read. */
  readonly includes: readonly IncludedFile[];
  /** The whole configuration after include, extends and !reference, as plain data (lint's merged_yaml). */
  readonly merged: Readonly<Record<string, unknown>>;
}

const DEFAULT_STAGES = ['build', 'test', 'deploy'];

/**
 * Loads a `.gitlab-ci.yml` into an immutable {@link PipelineSpec}, through explicit passes:
 * parse (YAML with lines, anchors, merge keys, bounded) → include:local → !reference → extends →
 * schema (every keyword, `default` filled in, expressions and patterns compiled) → graph (stages,
 * needs, cycles) → freeze.
 *
 * @throws TesseraError `ERR_PIPELINE_INVALID` with `details.errors` (every error found, each with
 *   path, message and line) and `details.warnings`. Nothing else escapes, whatever the input.
 */
export async function loadPipeline(input: LoadPipelineInput): Promise<LoadedPipeline> {
  const file = input.file ?? '.gitlab-ci.yml';
  const problems = new ProblemList(file);
  let spec: PipelineSpec | null;
  const trace: LoadTrace = { includes: [], merged: null };
  try {
    spec = await build(input, file, problems, trace);
  } catch (error) {
    if (isTesseraError(error)) throw error;
    if (error instanceof RangeError) {
      problems.error(file, 'the configuration nests too deeply to be processed; flatten it', null);
      spec = null;
    } else {
      throw new TesseraError('ERR_INTERNAL', 'the pipeline configuration could not be processed', {
        cause: error,
      });
    }
  }
  if (spec === null || problems.failed) {
    if (!problems.failed) problems.error(file, 'the configuration could not be read', null);
    throw pipelineInvalid(file, problems.finalErrors(), problems.finalWarnings());
  }
  return {
    spec,
    warnings: problems.finalWarnings(),
    includes: trace.includes,
    merged: trace.merged === null ? {} : (plainData(trace.merged) as Record<string, unknown>),
  };
}

/** What a load saw on the way, for the lint API: the included files and the merged configuration. */
interface LoadTrace {
  includes: IncludedFile[];
  merged: MapNode | null;
}

function plainData(node: TreeNode): unknown {
  switch (node.kind) {
    case 'scalar':
      return node.value;
    case 'seq':
      return node.items.map(plainData);
    case 'reference':
      return { '!reference': node.target };
    case 'map': {
      // A null prototype keeps a key named __proto__ a plain entry.
      const result: Record<string, unknown> = Object.create(null);
      for (const [key, value] of node.entries) result[key] = plainData(value);
      return result;
    }
  }
}

/** The error {@link loadPipeline} and {@link planPipeline} throw for an invalid configuration. */
export function pipelineInvalid(
  file: string,
  errors: ConfigProblem[],
  warnings: ConfigProblem[],
): TesseraError {
  const first = errors[0];
  const where =
    first === undefined
      ? ''
      : `${first.path}: ${first.message}${first.line === null ? '' : ` (line ${first.line})`}`;
  const count = errors.length === 1 ? '1 error' : `${errors.length} errors`;
  return new TesseraError('ERR_PIPELINE_INVALID', `${count} in ${file}: first one ${where}`, {
    details: { errors, warnings },
  });
}

async function build(
  input: LoadPipelineInput,
  file: string,
  problems: ProblemList,
  trace: LoadTrace,
): Promise<PipelineSpec | null> {
  const budget: ParseBudget = { expandedNodes: 0, aliasBytes: 0 };
  const read = parseConfigFile(input.content, file, problems, budget);
  const given = givenInputs(input, read.header, file, problems);
  const parsed =
    read.header === null || read.body === null
      ? read.body
      : applyHeader(
          read.header,
          read.body,
          given,
          given === null ? 'spec.inputs' : 'inputs',
          null,
          problems,
          input.variables,
        );
  if (parsed === null) {
    if (!problems.failed)
      problems.error(file, 'the file is empty; define at least one job with a script', null);
    return null;
  }
  if (parsed.kind !== 'map') {
    problems.error(
      file,
      `the file must be a mapping of keywords and jobs, not ${describeNode(parsed)}`,
      parsed,
    );
    return null;
  }
  const work = new WorkBudget();
  try {
    const spec = await normaliseAndCheck(parsed, input, file, problems, budget, work, trace);
    if (spec !== null && input.readLocalFile !== undefined)
      await warnAboutChildInputs(spec, input.readLocalFile, problems);
    return spec;
  } catch (error) {
    if (!(error instanceof WorkLimitExceeded)) throw error;
    problems.error(
      file,
      `the configuration expands to more than ${work.limit} YAML nodes through include, extends and !reference; simplify the templates`,
      null,
    );
    return null;
  }
}

/**
 * The inputs given from outside the file as a tree, or `null` when none were given (or they
 * cannot be used, the problem recorded on `inputs`).
 */
function givenInputs(
  input: LoadPipelineInput,
  header: MapNode | null,
  file: string,
  problems: ProblemList,
): MapNode | null {
  if (input.inputs === undefined) return null;
  const names = Object.keys(input.inputs);
  if (header === null) {
    if (names.length > 0)
      problems.error(
        `inputs.${names[0]}`,
        `${file} takes no inputs: it has no spec:inputs header (spec: { inputs: … } followed by a --- line)`,
        null,
      );
    return null;
  }
  // The definitions tell how to read a string given for a number, boolean or array input; their
  // own mistakes are reported once, by applyHeader.
  const spec = headerSpec(header, new ProblemList(file));
  const definitions = spec === null ? new Map() : readInputDefinitions(spec, new ProblemList(file));
  const node = pipelineInputsNode(input.inputs, definitions, file);
  if ('error' in node) {
    problems.error(`inputs.${node.name}`, node.error, null);
    return null;
  }
  return node;
}

async function normaliseAndCheck(
  parsed: MapNode,
  input: LoadPipelineInput,
  file: string,
  problems: ProblemList,
  budget: ParseBudget,
  work: WorkBudget,
  trace: LoadTrace,
): Promise<PipelineSpec | null> {
  const included = await resolveIncludes(parsed, input.readLocalFile, problems, budget, work, {
    listLocalFiles: input.listLocalFiles,
    variables: input.variables,
    onInclude: (included) => trace.includes.push(included),
    sources: input.includeSources,
    project: input.project,
    sha: input.sha,
    clock: input.clock,
    fetchRemoteFile: input.fetchRemoteFile,
    changedPaths: input.changedPaths,
  });
  if (!problems.failed) return checkConfiguration(included, file, problems, work, trace);
  // An include failed: the rest is still checked so that every error shows at once, leaving out
  // those a missing file may cause (names, stages and scripts it might have defined).
  const rest = new ProblemList(file);
  checkConfiguration(included, file, rest, work, trace);
  problems.absorb(rest, (problem) => !MAYBE_FROM_MISSING_INCLUDE.test(problem.message));
  return null;
}

const MAYBE_FROM_MISSING_INCLUDE =
  /is not defined|does not exist|is not a job in this configuration|is not declared|is not in stages|^is required|has no jobs|is a hidden job/;

function checkConfiguration(
  included: MapNode,
  file: string,
  problems: ProblemList,
  work: WorkBudget,
  trace: LoadTrace,
): PipelineSpec | null {
  // GitLab resolves extends before !reference, so a reference sees the keys a job inherits.
  const ownJobs = new Map<string, MapNode>();
  for (const [key, value] of included.entries) {
    if (!isTopLevelKeyword(key) && value.kind === 'map') ownJobs.set(key, value);
  }
  if (ownJobs.size > PIPELINE_LIMITS.maxJobs) {
    problems.error(
      file,
      `the configuration defines ${ownJobs.size} jobs; at most ${PIPELINE_LIMITS.maxJobs} are allowed`,
      null,
    );
    return null;
  }
  const extended = resolveExtends(ownJobs, problems, work);
  const withExtends = new Map(included.entries);
  for (const [name, job] of extended) withExtends.set(name, job);
  const root = resolveReferences({ ...included, entries: withExtends }, problems, work);
  trace.merged = root;

  const jobs = new Map<string, MapNode>();
  const hidden = new Set<string>();
  for (const [key, value] of root.entries) {
    if (isTopLevelKeyword(key)) continue;
    const at = keyPosition(root, key);
    const unsafe = unsafeCharacterIn(key);
    if (unsafe !== null) {
      problems.error(
        `jobs.${escapeUnsafeCharacters(key)}`,
        `a job name must not contain ${UNSAFE_NAME_CHARACTERS}; this one has ${unsafe}`,
        at,
      );
      continue;
    }
    if (value.kind === 'map') {
      // A job's position is its name's line, where "is required" errors are best shown.
      jobs.set(key, { ...value, line: at.line ?? value.line });
      if (key.startsWith('.')) hidden.add(key);
    } else if (!key.startsWith('.')) {
      problems.error(
        `jobs.${key}`,
        `"${key}" is not a keyword, so it is read as a job, and a job must be a mapping with script, not ${describeNode(value)}`,
        at,
      );
    }
  }
  if (jobs.size > PIPELINE_LIMITS.maxJobs) {
    problems.error(
      file,
      `the configuration defines ${jobs.size} jobs; at most ${PIPELINE_LIMITS.maxJobs} are allowed`,
      null,
    );
    return null;
  }

  for (const key of ['types']) {
    if (root.entries.has(key))
      problems.error(key, `top-level "${key}" is not supported by Tessera`, keyPosition(root, key));
  }
  if (root.entries.has('spec')) {
    problems.error(
      'spec',
      'spec: is a header: put it first, alone in its own YAML document, and separate it from the configuration with a --- line',
      keyPosition(root, 'spec'),
    );
  }
  const stages = readStages(root, problems);
  const variablesNode = root.entries.get('variables');
  const variables =
    variablesNode === undefined
      ? {}
      : readVariables(variablesNode, 'variables', problems, { allowOptions: true });
  const workflow = readWorkflow(root, problems);
  const defaultNode = root.entries.get('default');
  const defaults = defaultNode === undefined ? {} : readDefault(defaultNode, problems);
  applyLegacyGlobals(root, defaults, problems);

  // Jobs whose extends failed (already reported) are left out here and checked on their own below.
  const resolved = new Map([...jobs].filter(([name]) => extended.has(name)));
  // extends and !reference share nodes instead of copying them; the schema pass visits every
  // copy, so its work is bounded here like the parse budget.
  let expanded = 0;
  for (const [name, job] of resolved) {
    if (!hidden.has(name)) expanded += treeSize(job, PIPELINE_LIMITS.maxExpandedNodes - expanded);
    if (expanded > PIPELINE_LIMITS.maxExpandedNodes) break;
  }
  if (expanded > PIPELINE_LIMITS.maxExpandedNodes) {
    problems.error(
      file,
      `the jobs expand to more than ${PIPELINE_LIMITS.maxExpandedNodes} YAML nodes after extends and !reference; simplify the templates`,
      null,
    );
    return null;
  }
  const stageIndex = new Map(stages.map((stage, index) => [stage, index]));
  const specs: JobSpec[] = [];
  // Name of each job with parallel → the names of the jobs it makes.
  const parallelGroups = new Map<string, string[]>();
  const broken = new Set<string>();
  let index = 0;
  for (const [name, own] of jobs) {
    if (hidden.has(name)) continue;
    const job = resolved.get(name);
    if (job !== undefined) {
      const read = readJob(name, job, { stages, stageIndex, defaults, problems, index });
      if (read.parallel === null) specs.push(read.spec);
      else {
        const instances = parallelInstances(
          name,
          read.parallel,
          `jobs.${name}.parallel`,
          keyPosition(job, 'parallel'),
          problems,
        );
        parallelGroups.set(
          name,
          instances.map((instance) => instance.name),
        );
        for (const instance of instances) {
          specs.push({
            ...read.spec,
            name: instance.name,
            // Matrix variables outrank the job's own, as in GitLab.
            variables: { ...read.spec.variables, ...instance.variables },
            parallel: { index: instance.index, total: instance.total },
          });
        }
      }
    } else {
      // Its extends failed (already reported): still check what the job says itself, leaving out
      // what a parent might have supplied (script, stage, the tokens its secrets use).
      broken.add(name);
      const scratch = new ProblemList(file);
      const entries = new Map(own.entries);
      entries.delete('extends');
      readJob(name, { ...own, entries }, { stages, stageIndex, defaults, problems: scratch, index });
      problems.absorb(
        scratch,
        (problem) =>
          !/\.(script|stage)$|\.secrets\./.test(problem.path) && !problem.message.startsWith('is required'),
      );
    }
    index += 1;
  }
  if (jobs.size - hidden.size === 0 && !problems.failed) {
    problems.error(
      file,
      'the configuration has no jobs; define at least one job (a name not starting with a dot) with a script',
      null,
    );
  }
  if (specs.length > PIPELINE_LIMITS.maxJobs) {
    problems.error(
      file,
      `parallel makes ${specs.length} jobs; at most ${PIPELINE_LIMITS.maxJobs} are allowed`,
      null,
    );
    return null;
  }
  checkStopJobs(specs, problems);
  const withNeeds = expandParallelNeeds(specs, parallelGroups);
  checkGraph(withNeeds, hidden, broken, problems);
  if (problems.failed) return null;
  if (!checkSpecSizes(specs, file, problems)) return null;
  return deepFreeze({
    stages,
    variables,
    file,
    workflowName: workflow.name,
    workflowRules: workflow.rules,
    jobs: withNeeds,
    ...(workflow.autoCancel === undefined ? {} : { autoCancel: workflow.autoCancel }),
  });
}

/**
 * Bounds what a pipeline stores: each job's spec and all of them together. extends, !reference
 * and `default` share text instead of copying it, so a small file can still describe gigabytes of
 * jobs; the measure stops at the limit instead of serialising them.
 */
function checkSpecSizes(specs: readonly JobSpec[], file: string, problems: ProblemList): boolean {
  let total = 0;
  for (const spec of specs) {
    const bytes = measureSpecBytes(spec, PIPELINE_LIMITS.maxJobSpecBytes);
    if (bytes > PIPELINE_LIMITS.maxJobSpecBytes) {
      problems.error(
        `jobs.${spec.name}`,
        `the job's configuration is larger than ${PIPELINE_LIMITS.maxJobSpecBytes} bytes after extends, !reference and default (the limit on one job); move long scripts into files in the repository`,
        { line: spec.line, file },
      );
      return false;
    }
    total += bytes;
    if (total > PIPELINE_LIMITS.maxPipelineSpecBytes) {
      problems.error(
        file,
        `the jobs' configuration is larger than ${PIPELINE_LIMITS.maxPipelineSpecBytes} bytes after extends, !reference and default (the limit on one pipeline); move long scripts into files in the repository`,
        null,
      );
      return false;
    }
  }
  return true;
}

/** `needs` naming a job with `parallel` waits for every job it makes, as in GitLab. */
function expandParallelNeeds(specs: JobSpec[], groups: ReadonlyMap<string, readonly string[]>): JobSpec[] {
  if (groups.size === 0) return specs;
  const expand = (needs: readonly NeedSpec[]): NeedSpec[] =>
    needs.flatMap((need) => (groups.get(need.job) ?? [need.job]).map((job) => ({ ...need, job })));
  return specs.map((spec) => ({
    ...spec,
    needs: spec.needs === null ? null : expand(spec.needs),
    rules:
      spec.rules === null
        ? null
        : spec.rules.map((rule) => (rule.needs == null ? rule : { ...rule, needs: expand(rule.needs) })),
  }));
}

function readStages(root: MapNode, problems: ProblemList): string[] {
  const node = root.entries.get('stages');
  const declared =
    node === undefined ? DEFAULT_STAGES : (readStringList(node, 'stages', problems) ?? DEFAULT_STAGES);
  const unique: string[] = [];
  const seen = new Set<string>();
  for (const stage of declared) {
    if (stage === '.pre' || stage === '.post') continue;
    if (seen.has(stage)) {
      problems.warn('stages', `stage "${stage}" is listed twice; the first position counts`, node);
      continue;
    }
    if (stage.trim() === '') problems.error('stages', 'stage names must not be empty', node);
    unique.push(stage);
    seen.add(stage);
  }
  return ['.pre', ...unique, '.post'];
}

function readWorkflow(
  root: MapNode,
  problems: ProblemList,
): { name: string | null; rules: RuleSpec[] | null; autoCancel?: AutoCancelSpec } {
  const node = root.entries.get('workflow');
  if (node === undefined) return { name: null, rules: null };
  if (node.kind !== 'map') {
    problems.error('workflow', `must be a mapping with rules, not ${describeNode(node)}`, node);
    return { name: null, rules: null };
  }
  checkKeys(node, 'workflow', new Set(['rules', 'name', 'auto_cancel']), problems);
  const nameNode = node.entries.get('name');
  const name = nameNode === undefined ? null : readString(nameNode, 'workflow.name', problems);
  const rulesNode = node.entries.get('rules');
  const rules =
    rulesNode === undefined ? null : readRules(rulesNode, 'workflow.rules', problems, { workflow: true });
  const autoCancelNode = node.entries.get('auto_cancel');
  const autoCancel =
    autoCancelNode === undefined
      ? undefined
      : readAutoCancel(autoCancelNode, 'workflow.auto_cancel', problems);
  // GitLab's defaults fill what `workflow:auto_cancel` leaves out; a rule's replace only what it writes.
  return {
    name,
    rules,
    ...(autoCancel === undefined ? {} : { autoCancel: { ...DEFAULT_AUTO_CANCEL, ...autoCancel } }),
  };
}

// Top-level before_script/after_script/cache/image/services are GitLab's deprecated globals.
function applyLegacyGlobals(root: MapNode, defaults: DefaultSpec, problems: ProblemList): void {
  const legacy: [string, 'beforeScript' | 'afterScript'][] = [
    ['before_script', 'beforeScript'],
    ['after_script', 'afterScript'],
  ];
  for (const [key, field] of legacy) {
    const node: TreeNode | undefined = root.entries.get(key);
    if (node === undefined) continue;
    problems.warn(key, `top-level ${key} is deprecated; move it under default:`, keyPosition(root, key));
    const script = readScript(node, key, problems);
    if (script !== null && defaults[field] === undefined) defaults[field] = script;
  }
  const cache = root.entries.get('cache');
  if (cache !== undefined) {
    problems.warn(
      'cache',
      'top-level cache is deprecated; move it under default:',
      keyPosition(root, 'cache'),
    );
    const caches = readCache(cache, 'cache', problems);
    if (defaults.cache === undefined) defaults.cache = caches;
  }
  const image = root.entries.get('image');
  if (image !== undefined) {
    problems.warn(
      'image',
      'top-level image is deprecated; move it under default:',
      keyPosition(root, 'image'),
    );
    const value = readImage(image, 'image', problems);
    if (value !== null && defaults.image === undefined) defaults.image = value;
  }
  const services = root.entries.get('services');
  if (services !== undefined) {
    problems.warn(
      'services',
      'top-level services is deprecated; move it under default:',
      keyPosition(root, 'services'),
    );
    const value = readServices(services, 'services', problems);
    if (value !== null && defaults.services === undefined) defaults.services = value;
  }
}

/** `environment:on_stop` names a job of the configuration that stops that environment (GitLab). */
function checkStopJobs(specs: readonly JobSpec[], problems: ProblemList): void {
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  for (const spec of specs) {
    const onStop = spec.environment?.onStop;
    if (onStop == null) continue;
    const target = byName.get(onStop);
    const path = `jobs.${spec.name}.environment.on_stop`;
    if (target === undefined) {
      problems.error(path, `"${onStop}" is not a job in this configuration`, { line: spec.line });
    } else if (target.environment?.action !== 'stop' || target.environment.name !== spec.environment?.name) {
      problems.error(
        path,
        `"${onStop}" must stop the same environment: give it environment: { name: ${spec.environment?.name}, action: stop }`,
        { line: target.line },
      );
    }
  }
}
