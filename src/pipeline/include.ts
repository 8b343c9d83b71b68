import { RE2JS } from 're2js';
import { isTesseraError } from '../errors.js';
import { applyHeader, parseConfigFile } from './config-file.js';
import type { ProblemList } from './config-problem.js';
import { expandVariables } from './expand-variables.js';
import { evaluateExpression } from './expression/evaluate.js';
import { compileGlob, existsIn } from './glob.js';
import { type ArtifactTarget, readArtifactEntry, readArtifactInclude } from './include-artifact.js';
import { type ComponentTarget, readComponentEntry, readComponentInclude } from './include-component.js';
import { type ProjectTarget, readProjectEntry, readProjectInclude } from './include-project.js';
import {
  type FetchRemoteFile,
  fetchRemoteInclude,
  looksLikeUrl,
  parseRemoteLocation,
  type RemoteLocation,
  readRemoteEntry,
} from './include-remote.js';
import {
  type ChangedPaths,
  type IncludeContext,
  type IncludedFile,
  type IncludeRead,
  IncludeSourceError,
  type IncludeSources,
  type ListLocalFiles,
  type ReadLocalFile,
  sourcesIn,
} from './include-sources.js';
import { PIPELINE_LIMITS } from './limits.js';
import type { ParseBudget } from './parse.js';
import { readRules } from './schema/rules.js';
import type { ExistsSpec, RuleSpec } from './spec.js';
import type { WorkBudget } from './work-budget.js';
import { deepMerge, describeNode, keyPosition, type MapNode, type TreeNode } from './yaml-tree.js';

export type { ListLocalFiles, ReadLocalFile } from './include-sources.js';

/** What one include pass shares across the files it reads. */
export interface IncludeState {
  readonly sources: IncludeSources | undefined;
  readonly variables: Readonly<Record<string, string>>;
  readonly onInclude: ((file: IncludedFile) => void) | undefined;
  readonly fetchRemoteFile: FetchRemoteFile | undefined;
  readonly changedPaths: ChangedPaths | undefined;
  /** The pipeline's own project, whose local files need no project named in messages. */
  readonly rootProject: string | undefined;
  /** Each context's file list, read once (wildcards and `rules:exists`). */
  readonly files: Map<IncludeContext, readonly string[]>;
  readonly problems: ProblemList;
  readonly budget: ParseBudget;
  readonly work: WorkBudget;
  readonly seen: Set<string>;
  count: number;
  readonly clock: () => number;
  /** When reading includes must have ended (GitLab's time limit on resolving a configuration). */
  readonly deadline: number;
  timedOut: boolean;
}

/**
 * Include pass: reads every included file (recursively, each once per context and inputs) and
 * deep-merges them under the including file, as GitLab does: included files in order, then the
 * including file on top, so its own keys win. `include:local` reads the repository of the
 * including file's context; `include:project` and `include:component` read projects of this
 * instance and `include:artifact` (child pipelines) the parent's artifacts, through `sources`;
 * `include:remote` files come through the injected fetcher (see `include-remote.ts`).
 */
export async function resolveIncludes(
  root: MapNode,
  readLocalFile: ReadLocalFile | undefined,
  problems: ProblemList,
  budget: ParseBudget,
  work: WorkBudget,
  options: IncludeOptions = {},
): Promise<MapNode> {
  const clock = options.clock ?? Date.now;
  const state: IncludeState = {
    sources: options.sources,
    variables: options.variables ?? {},
    onInclude: options.onInclude,
    fetchRemoteFile: options.fetchRemoteFile,
    changedPaths: options.changedPaths,
    rootProject: options.project,
    files: new Map(),
    problems,
    budget,
    work,
    seen: new Set(),
    count: 0,
    clock,
    deadline: clock() + PIPELINE_LIMITS.maxIncludeMilliseconds,
    timedOut: false,
  };
  const context: IncludeContext = {
    readLocalFile,
    listLocalFiles: options.listLocalFiles,
    project: options.project,
    sha: options.sha,
  };
  return expand(root, context, state, 0);
}

/** The keywords of one `include` entry that Tessera reads. */
export const INCLUDE_KEYWORDS: readonly string[] = [
  'local',
  'inputs',
  'rules',
  'project',
  'file',
  'ref',
  'component',
  'template',
  'remote',
  'integrity',
  'cache',
];

/** Keywords of an include entry that only a child pipeline's `trigger:include` gives. */
const CHILD_INCLUDE_KEYWORDS: readonly string[] = ['artifact', 'job'];

/** Optional inputs of {@link resolveIncludes}. */
export interface IncludeOptions {
  /** Lists the repository's files, for wildcards and `include:rules:exists`. */
  readonly listLocalFiles?: ListLocalFiles | undefined;
  /** Variables `include:rules:if` sees (predefined and project ones); none when absent. */
  readonly variables?: Readonly<Record<string, string>> | undefined;
  /** Told every file merged in, in order (the lint API's `includes`). */
  readonly onInclude?: ((file: IncludedFile) => void) | undefined;
  /** Projects of this instance and parent artifacts; without it, those includes are errors. */
  readonly sources?: IncludeSources | undefined;
  /** The pipeline's project (full path) and commit, for the lint API's links. */
  readonly project?: string | undefined;
  readonly sha?: string | undefined;
  /** Milliseconds now, for the time limit (tests freeze it). */
  readonly clock?: (() => number) | undefined;
  /** Fetches `include:remote` files (the coordinator's); without it, a remote include is an error. */
  readonly fetchRemoteFile?: FetchRemoteFile | undefined;
  /** The pipeline's changed paths, for `include:rules:changes`; without it, `changes` holds. */
  readonly changedPaths?: ChangedPaths | undefined;
}

/**
 * Whether an include's `rules` let it in, as GitLab: the first rule whose `if`, `exists` and
 * `changes` hold decides, and `when: never` leaves the file out; no matching rule leaves it out
 * too. `changes` compares the pipeline's changed paths (GitLab 16.4); it holds where the pipeline
 * has no base, as a job's `rules:changes` does, and where none is given (lint without a dry run).
 */
async function includeAllowed(
  rules: readonly RuleSpec[],
  context: IncludeContext,
  state: IncludeState,
  variables: Readonly<Record<string, string>>,
): Promise<boolean> {
  for (const rule of rules) {
    if (rule.if !== null && !evaluateExpression(rule.if, variables)) continue;
    if (rule.exists != null) {
      const files = await existsFiles(rule.exists, context, state, variables);
      if (files === null) return false;
      const globs = rule.exists.paths.flatMap((path) => {
        const glob = compileGlob(expandVariables(path, variables).replace(/^\/+/, ''));
        return 'error' in glob ? [] : [glob];
      });
      if (!existsIn(files, globs)) continue;
    }
    if (rule.changes != null && state.changedPaths !== undefined) {
      const changed = await state.changedPaths(rule.changes.compareTo);
      const globs = rule.changes.paths.flatMap((path) => {
        const glob = compileGlob(expandVariables(path, variables).replace(/^\/+/, ''));
        return 'error' in glob ? [] : [glob];
      });
      if (changed !== null && !changed.some((file) => globs.some((glob) => glob.matcher(file).matches())))
        continue;
    }
    return rule.when !== 'never';
  }
  return false;
}

/**
 * The files an include's `rules:exists` looks at: those of the including file's project (GitLab's
 * include context), or with `project` those of that project at `ref` (its default branch when
 * none), variables expanded, read through the sources with the user's access. `null` after
 * recording why they cannot be read (the include is then left out).
 */
async function existsFiles(
  exists: ExistsSpec,
  context: IncludeContext,
  state: IncludeState,
  variables: Readonly<Record<string, string>>,
): Promise<readonly string[] | null> {
  if (exists.project == null) return repositoryFiles(context, state);
  if (exists.paths.length === 0) return [];
  const at = exists.at ?? { path: 'include.rules.exists.project', line: null };
  const project = expandVariables(exists.project, variables);
  const ref = exists.ref == null ? null : expandVariables(exists.ref, variables);
  // A value from variables is named as written, so no variable (masked or not) shows.
  const named = exists.project.includes('$')
    ? `"${exists.project}" (with its variables expanded)`
    : `"${project}"`;
  const sources = sourcesIn(context, state.sources);
  if (sources === undefined) {
    state.problems.error(
      at.path,
      `cannot look in project ${named}: rules:exists:project reads projects of a Tessera server (tessera ci lint --server URL --project PATH)`,
      at,
    );
    return null;
  }
  try {
    return await repositoryFiles(await sources.openProject(project, ref), state);
  } catch (error) {
    if (!(error instanceof IncludeSourceError)) throw error;
    state.problems.error(at.path, `rules:exists cannot look in project ${named}: ${error.message}`, at);
    return null;
  }
}

async function repositoryFiles(context: IncludeContext, state: IncludeState): Promise<readonly string[]> {
  let files = state.files.get(context);
  if (files === undefined) {
    try {
      files = context.listLocalFiles === undefined ? [] : [...(await context.listLocalFiles())].sort();
    } catch {
      files = [];
    }
    state.files.set(context, files);
  }
  return files;
}

/**
 * The files a wildcard `include:local` names, as GitLab matches them: `**` any characters, `*` any
 * but `/`, everything else literally, against the whole path; in the repository's path order.
 */
async function expandWildcard(
  entry: IncludeEntry,
  path: string,
  context: IncludeContext,
  state: IncludeState,
): Promise<IncludeEntry[]> {
  if (context.listLocalFiles === undefined) {
    state.problems.error(
      entry.where,
      `cannot expand "${path}": wildcards in include:local need the repository's file list`,
      entry.at,
    );
    return [];
  }
  const files = await repositoryFiles(context, state);
  const pattern = RE2JS.compile(
    `^${path
      .split('**')
      .map((part) => part.split('*').map(RE2JS.quote).join('[^/]*?'))
      .join('.*?')}$`,
  );
  const matches = files.filter((file) => /\.ya?ml$/i.test(file) && pattern.matcher(file).matches());
  if (matches.length === 0) {
    state.problems.warn(entry.where, `"${path}" matches no .yml or .yaml file of the repository`, entry.at);
  }
  return matches.map((match) => ({ ...entry, target: { kind: 'local', path: match } }));
}

async function expand(
  config: MapNode,
  context: IncludeContext,
  state: IncludeState,
  depth: number,
): Promise<MapNode> {
  const include = config.entries.get('include');
  if (include === undefined) return config;
  let merged: TreeNode | null = null;
  const entries: IncludeEntry[] = [];
  // GitLab reads the includes of a remote file without context: no variables, no project, no
  // user (so only public projects, see IncludeSources.anonymous).
  const variables = context.remote === true || context.anonymous === true ? {} : state.variables;
  for (const entry of includeEntries(include, state.problems, variables)) {
    if (context.remote === true && (entry.target.kind === 'local' || entry.target.kind === 'artifact')) {
      state.problems.error(
        entry.where,
        `${entry.target.kind === 'local' ? `include:local "${entry.target.path}"` : `include:${entry.target.kind}`} is not allowed in a file included with include:remote: GitLab reads its nested includes without this project, so they may include remote files and files or components of public projects only`,
        entry.at,
      );
      continue;
    }
    if (entry.rules !== null && !(await includeAllowed(entry.rules, context, state, variables))) continue;
    if (entry.target.kind === 'local' && entry.target.path.includes('*'))
      entries.push(...(await expandWildcard(entry, entry.target.path, context, state)));
    else entries.push(entry);
  }
  for (const entry of entries) {
    const { inputs, at, where } = entry;
    // GitLab counts every include, the same file again included, toward its limit.
    state.count += 1;
    if (depth >= PIPELINE_LIMITS.maxIncludeDepth) {
      state.problems.error(
        where,
        `includes nest more than ${PIPELINE_LIMITS.maxIncludeDepth} levels deep; include the deeper files from a shallower one`,
        at,
      );
      break;
    }
    if (state.count > PIPELINE_LIMITS.maxIncludes) {
      state.problems.error(
        where,
        `more than ${PIPELINE_LIMITS.maxIncludes} includes (a file included again counts again); merge some files`,
        at,
      );
      break;
    }
    if (state.timedOut) break;
    if (state.clock() > state.deadline) {
      state.timedOut = true;
      state.problems.error(where, timeLimitMessage(), at);
      break;
    }
    // The same file with other inputs is another configuration, as in GitLab; a local path is
    // another file in another project's context.
    // Read anonymously, a project file is another answer (it may be refused) than the user's read.
    const identity = `${context.anonymous === true ? 'anonymous:' : ''}${context.project ?? ''}@${context.sha ?? ''}\u0000${JSON.stringify(entry.target)}`;
    const key = inputs === null ? identity : `${identity}\u0000${JSON.stringify(plainValue(inputs))}`;
    if (state.seen.has(key)) continue;
    state.seen.add(key);
    const read = await withinDeadline(readInclude(entry, context, state), state);
    if (read === TIMED_OUT) {
      state.problems.error(where, timeLimitMessage(), at);
      break;
    }
    if (read === null) continue;
    const parsedFile = parseConfigFile(read.content, read.label, state.problems, state.budget);
    if (parsedFile.body === null) continue;
    let parsed = parsedFile.body;
    if (parsedFile.header !== null) {
      parsed = applyHeader(
        parsedFile.header,
        parsed,
        inputs,
        `${where}.inputs`,
        at,
        state.problems,
        variables,
        read.component ?? null,
      );
    } else if (inputs !== null) {
      state.problems.error(
        `${where}.inputs`,
        `"${read.label}" takes no inputs: it has no spec:inputs header (spec: { inputs: … } followed by a --- line)`,
        inputs,
      );
    }
    if (parsed.kind !== 'map') {
      state.problems.error(where, `"${read.label}" must contain a mapping of keywords and jobs`, at);
      continue;
    }
    state.onInclude?.(read.record);
    const nested = await expand(parsed, read.context, state, depth + 1);
    merged = merged === null ? nested : deepMerge(merged, nested, (amount) => state.work.charge(amount));
  }
  const own = new Map(config.entries);
  own.delete('include');
  const ownLines = new Map(config.keyLines);
  const self: MapNode = {
    kind: 'map',
    entries: own,
    keyLines: ownLines,
    line: config.line,
    file: config.file,
  };
  if (merged === null) return self;
  const result = deepMerge(merged, self, (amount) => state.work.charge(amount));
  return result.kind === 'map' ? result : self;
}

const TIMED_OUT = Symbol('timed out');

function timeLimitMessage(): string {
  return `reading the includes took longer than ${PIPELINE_LIMITS.maxIncludeMilliseconds / 1000} seconds; include fewer files, or files of fewer projects`;
}

/**
 * `read`, or {@link TIMED_OUT} once the time left for includes has passed: one slow git read (each
 * bounded on its own, but longer than the whole budget) cannot hold the configuration past it.
 * A read that loses the race ends in the background; its result is dropped.
 */
async function withinDeadline<T>(read: Promise<T>, state: IncludeState): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<typeof TIMED_OUT>((resolve) => {
    // Not unref'd: the wait must keep the process alive until it ends (it is cleared either way).
    timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, state.deadline - state.clock()));
  });
  try {
    const result = await Promise.race([read, late]);
    if (result === TIMED_OUT) {
      state.timedOut = true;
      read.catch(() => undefined);
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** Reads the text of one include from where its kind says; `null` after reporting why not. */
function readInclude(
  entry: IncludeEntry,
  context: IncludeContext,
  state: IncludeState,
): Promise<IncludeRead | null> {
  switch (entry.target.kind) {
    case 'local':
      return readLocalInclude(entry, entry.target.path, context, state);
    case 'project':
      return readProjectInclude(entry.target, entry, context, state);
    case 'component':
      return readComponentInclude(entry.target, entry, context, state);
    case 'artifact':
      return readArtifactInclude(entry.target, entry, context, state);
    case 'remote':
      return readRemoteInclude(entry.target, entry, context, state);
  }
}

/** Reads an `include:remote` file; its own includes get a context without project, variables or user. */
async function readRemoteInclude(
  target: RemoteTarget,
  entry: IncludeEntry,
  context: IncludeContext,
  state: IncludeState,
): Promise<IncludeRead | null> {
  const content = await fetchRemoteInclude(target.location, target.integrity, state.fetchRemoteFile, {
    where: entry.where,
    at: entry.at,
    problems: state.problems,
  });
  if (content === undefined) return null;
  return {
    content,
    label: target.location.display,
    context: { readLocalFile: undefined, listLocalFiles: undefined, remote: true, anonymous: true },
    record: {
      type: 'remote',
      location: target.location.display,
      source: null,
      extra: {},
      contextProject: context.project ?? null,
      contextSha: context.sha ?? null,
    },
  };
}

async function readLocalInclude(
  entry: IncludeEntry,
  path: string,
  context: IncludeContext,
  state: IncludeState,
): Promise<IncludeRead | null> {
  const { where, at } = entry;
  if (context.readLocalFile === undefined) {
    state.problems.error(
      where,
      `cannot read "${path}": include:local needs the repository (tessera ci lint --dir REPO)`,
      at,
    );
    return null;
  }
  let content: string | undefined;
  try {
    content = await context.readLocalFile(path);
  } catch (error) {
    // A reader that can tell a file too large from a missing one says so in its error.
    if (isTesseraError(error) && error.code === 'ERR_PIPELINE_INVALID') {
      state.problems.error('include', error.message, at);
      return null;
    }
    content = undefined;
  }
  if (content === undefined) {
    state.problems.error(
      where,
      context.project === undefined || context.project === state.rootProject
        ? `local file "${path}" does not exist in the repository`
        : `local file "${path}" does not exist in project "${context.project}" (an include:local of a file from another project reads that project)`,
      at,
    );
    return null;
  }
  const foreign = context.project !== undefined && context.project !== state.rootProject;
  return {
    content,
    label: foreign ? `${path} of ${context.project}` : path,
    context,
    record: {
      type: 'local',
      location: path,
      source:
        context.project === undefined || context.sha === undefined
          ? null
          : { project: context.project, sha: context.sha, path },
      extra: {},
      contextProject: context.project ?? null,
      contextSha: context.sha ?? null,
    },
  };
}

/** What an include entry asks for: a file of this repository, of a project, a component, an artifact. */
export type IncludeTarget =
  | { readonly kind: 'local'; readonly path: string }
  | ProjectTarget
  | ComponentTarget
  | ArtifactTarget
  | RemoteTarget;

/** An `include:remote` entry: the URL and its `integrity:` digest (`null` when absent). */
export interface RemoteTarget {
  readonly kind: 'remote';
  readonly location: RemoteLocation;
  readonly integrity: string | null;
}

/** One include entry, read. */
export interface IncludeEntry {
  readonly target: IncludeTarget;
  /** `inputs:` of the entry, `null` when it has none. */
  readonly inputs: MapNode | null;
  readonly at: TreeNode;
  /** `include` or `include[2]`, for messages. */
  readonly where: string;
  /** `rules:` of the entry, `null` when it has none. */
  readonly rules: readonly RuleSpec[] | null;
}

function includeEntries(
  include: TreeNode,
  problems: ProblemList,
  variables: Readonly<Record<string, string>>,
): IncludeEntry[] {
  const items = include.kind === 'seq' ? include.items : [include];
  const entries: IncludeEntry[] = [];
  items.forEach((item, index) => {
    const where = include.kind === 'seq' ? `include[${index}]` : 'include';
    let inputs: MapNode | null = null;
    let rules: RuleSpec[] | null = null;
    if (item.kind === 'scalar' && typeof item.value === 'string') {
      if (looksLikeUrl(item.value)) {
        const location = parseRemoteLocation(item.value, variables);
        if ('error' in location) problems.error(where, location.error, item);
        else
          entries.push({
            target: { kind: 'remote', location, integrity: null },
            inputs,
            at: item,
            where,
            rules,
          });
        return;
      }
      pushLocal(item.value, item, where, null, null, entries, problems);
      return;
    }
    if (item.kind !== 'map') {
      problems.error(
        where,
        `must be a file path, { local: path }, { project, file } or { component }, not ${describeNode(item)}`,
        item,
      );
      return;
    }
    for (const key of item.entries.keys()) {
      if (INCLUDE_KEYWORDS.includes(key) || CHILD_INCLUDE_KEYWORDS.includes(key)) continue;
      problems.error(
        `${where}.${key}`,
        `unknown include keyword "${key}"; write include: { local: path/to/file.yml }, { project, file }, { remote } or { component }`,
        keyPosition(item, key),
      );
    }
    const rulesNode = item.entries.get('rules');
    if (rulesNode !== undefined) {
      rules = readRules(rulesNode, `${where}.rules`, problems, { workflow: true });
    }
    const inputsNode = item.entries.get('inputs');
    if (inputsNode !== undefined) {
      if (inputsNode.kind === 'map') inputs = inputsNode;
      else
        problems.error(
          `${where}.inputs`,
          `must be a mapping of input names and values, not ${describeNode(inputsNode)}`,
          inputsNode,
        );
    }
    const kinds = ['local', 'project', 'component', 'artifact', 'template', 'remote'].filter((key) =>
      item.entries.has(key),
    );
    if (kinds.length > 1) {
      problems.error(where, `names ${kinds.join(' and ')}: an include entry reads one kind of file`, item);
      return;
    }
    const kind = kinds[0];
    const context = { where, at: item, inputs, rules };
    switch (kind) {
      case undefined:
        if (item.entries.has('integrity') || item.entries.has('cache'))
          readRemoteEntry(item, where, problems, variables);
        else if (item.entries.has('file'))
          problems.error(
            where,
            'file goes with project: write { project: group/project, file: ci/build.yml }',
            item,
          );
        else
          problems.error(
            where,
            'write include: { local: path/to/file.yml }, { project, file }, { remote } or { component }',
            item,
          );
        return;
      case 'local': {
        const local = item.entries.get('local') as TreeNode;
        if (local.kind !== 'scalar' || typeof local.value !== 'string') {
          problems.error(`${where}.local`, `must be a file path, not ${describeNode(local)}`, local);
          return;
        }
        pushLocal(local.value, item, where, inputs, rules, entries, problems);
        return;
      }
      case 'project':
        for (const target of readProjectEntry(item, where, problems, variables))
          entries.push({ ...context, target });
        return;
      case 'component': {
        const target = readComponentEntry(item, where, problems, variables);
        if (target !== null) entries.push({ ...context, target });
        return;
      }
      case 'artifact': {
        const target = readArtifactEntry(item, where, problems);
        if (target !== null) entries.push({ ...context, target });
        return;
      }
      case 'template':
        refuseTemplate(item, where, problems);
        return;
      case 'remote': {
        const read = readRemoteEntry(item, where, problems, variables);
        if (read !== null)
          entries.push({
            ...context,
            target: { kind: 'remote', location: read.remote, integrity: read.integrity },
          });
        return;
      }
    }
  });
  return entries;
}

function pushLocal(
  raw: string,
  item: TreeNode,
  where: string,
  inputs: MapNode | null,
  rules: RuleSpec[] | null,
  entries: IncludeEntry[],
  problems: ProblemList,
): void {
  const normalised = normaliseLocalPath(raw);
  if ('error' in normalised) problems.error(where, normalised.error, item);
  else entries.push({ target: { kind: 'local', path: normalised.path }, inputs, at: item, where, rules });
}

/**
 * `include:template`: GitLab's own templates are not shipped with Tessera. The answer names the
 * template and says how to vendor it, which is all a template include needs.
 */
function refuseTemplate(item: MapNode, where: string, problems: ProblemList): void {
  const node = item.entries.get('template') as TreeNode;
  const name = node.kind === 'scalar' && typeof node.value === 'string' ? node.value.trim() : null;
  if (name === null || name === '') {
    problems.error(`${where}.template`, `must be a template name, not ${describeNode(node)}`, node);
    return;
  }
  const file = name.split('/').pop() ?? name;
  problems.error(
    `${where}.template`,
    `GitLab's template "${name}" is not shipped with Tessera: vendor it (copy lib/gitlab/ci/templates/${name} from the GitLab version you follow into this repository, e.g. as ci/templates/${file}) and write include: { local: ci/templates/${file} }`,
    node,
  );
}

function plainValue(node: TreeNode): unknown {
  switch (node.kind) {
    case 'scalar':
      return node.value;
    case 'seq':
      return node.items.map(plainValue);
    case 'map':
      return [...node.entries].map(([key, value]) => [key, plainValue(value)]);
    case 'reference':
      return node.target;
  }
}

/** A repository path (or wildcard pattern) from an `include:local` value: no `..`, relative to the root. */
function normaliseLocalPath(raw: string): { path: string } | { error: string } {
  const trimmed = raw.trim().replace(/^\/+/, '');
  if (trimmed === '') return { error: 'the include path is empty' };
  // GitLab reads include:local paths from the repository root and finds no "./…" file there.
  if (trimmed.startsWith('./'))
    return {
      error: `"${raw}" is not found by GitLab: write the path from the repository root without ./ ("${trimmed.slice(2)}")`,
    };
  if (trimmed.includes('\0') || trimmed.split('/').some((segment) => segment === '..')) {
    return { error: `"${raw}" leaves the repository; include paths are relative to the repository root` };
  }
  if (!/\.ya?ml$/i.test(trimmed) && !trimmed.includes('*'))
    return { error: `"${raw}" must be a .yml or .yaml file` };
  return {
    path: trimmed
      .split('/')
      .filter((segment) => segment !== '' && segment !== '.')
      .join('/'),
  };
}
