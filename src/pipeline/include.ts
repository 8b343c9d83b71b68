import { RE2JS } from 're2js';
import { isTesseraError } from '../errors.js';
import { applyHeader, parseConfigFile } from './config-file.js';
import type { ProblemList } from './config-problem.js';
import { expandVariables } from './expand-variables.js';
import { evaluateExpression } from './expression/evaluate.js';
import { compileGlob } from './glob.js';
import {
  type FetchRemoteFile,
  fetchRemoteInclude,
  looksLikeUrl,
  parseRemoteLocation,
  type RemoteLocation,
  readRemoteEntry,
} from './include-remote.js';
import { PIPELINE_LIMITS } from './limits.js';
import type { ParseBudget } from './parse.js';
import { readRules } from './schema/rules.js';
import type { RuleSpec } from './spec.js';
import type { WorkBudget } from './work-budget.js';
import { deepMerge, describeNode, keyPosition, type MapNode, type TreeNode } from './yaml-tree.js';

/** Reads a file of the repository by its path from the repository root; `undefined` when absent. */
export type ReadLocalFile = (path: string) => Promise<string | undefined>;

/** Lists every file of the repository (paths from its root), for `include:local` wildcards. */
export type ListLocalFiles = () => Promise<readonly string[]>;

interface IncludeState {
  readonly readLocalFile: ReadLocalFile | undefined;
  readonly listLocalFiles: ListLocalFiles | undefined;
  readonly variables: Readonly<Record<string, string>>;
  readonly onInclude: ((path: string) => void) | undefined;
  readonly fetchRemoteFile: FetchRemoteFile | undefined;
  files: readonly string[] | null;
  readonly problems: ProblemList;
  readonly budget: ParseBudget;
  readonly work: WorkBudget;
  readonly seen: Set<string>;
  count: number;
}

/**
 * Include pass: reads every `include:local` file (recursively, each once) and deep-merges them
 * under the including file, as GitLab does: included files in order, then the including file on
 * top, so its own keys win. `include:remote` files come through the injected fetcher (see
 * `include-remote.ts`); project, template and component includes are refused.
 */
export async function resolveIncludes(
  root: MapNode,
  readLocalFile: ReadLocalFile | undefined,
  problems: ProblemList,
  budget: ParseBudget,
  work: WorkBudget,
  options: IncludeOptions = {},
): Promise<MapNode> {
  const state: IncludeState = {
    readLocalFile,
    listLocalFiles: options.listLocalFiles,
    variables: options.variables ?? {},
    onInclude: options.onInclude,
    fetchRemoteFile: options.fetchRemoteFile,
    files: null,
    problems,
    budget,
    work,
    seen: new Set(),
    count: 0,
  };
  return expand(root, state, 0, false);
}

/** The keywords of one `include` entry that Tessera reads. */
export const INCLUDE_KEYWORDS: readonly string[] = [
  'local',
  'remote',
  'integrity',
  'cache',
  'inputs',
  'rules',
];

/** Optional inputs of {@link resolveIncludes}. */
export interface IncludeOptions {
  /** Lists the repository's files, for wildcards and `include:rules:exists`. */
  readonly listLocalFiles?: ListLocalFiles | undefined;
  /** Variables `include:rules:if` sees (predefined and project ones); none when absent. */
  readonly variables?: Readonly<Record<string, string>> | undefined;
  /** Told the path of every file merged in, in order (the lint API's `includes`). */
  readonly onInclude?: ((path: string) => void) | undefined;
  /** Fetches `include:remote` files (the coordinator's); without it, a remote include is an error. */
  readonly fetchRemoteFile?: FetchRemoteFile | undefined;
}

/**
 * Whether an include's `rules` let it in, as GitLab: the first rule whose `if` and `exists` hold
 * decides, and `when: never` leaves the file out; no matching rule leaves it out too. `changes`
 * has no base while the configuration is read, so it holds.
 */
async function includeAllowed(
  rules: readonly RuleSpec[],
  state: IncludeState,
  variables: Readonly<Record<string, string>>,
): Promise<boolean> {
  for (const rule of rules) {
    if (rule.if !== null && !evaluateExpression(rule.if, variables)) continue;
    if (rule.exists != null) {
      const files = await repositoryFiles(state);
      const globs = rule.exists.paths.flatMap((path) => {
        const glob = compileGlob(expandVariables(path, variables).replace(/^\/+/, ''));
        return 'error' in glob ? [] : [glob];
      });
      if (!files.some((file) => globs.some((glob) => glob.matcher(file).matches()))) continue;
    }
    return rule.when !== 'never';
  }
  return false;
}

async function repositoryFiles(state: IncludeState): Promise<readonly string[]> {
  if (state.files === null) {
    try {
      state.files = state.listLocalFiles === undefined ? [] : [...(await state.listLocalFiles())].sort();
    } catch {
      state.files = [];
    }
  }
  return state.files;
}

/**
 * The files a wildcard `include:local` names, as GitLab matches them: `**` any characters, `*` any
 * but `/`, everything else literally, against the whole path; in the repository's path order.
 */
async function expandWildcard(entry: IncludeEntry, state: IncludeState): Promise<IncludeEntry[]> {
  if (state.listLocalFiles === undefined) {
    state.problems.error(
      entry.where,
      `cannot expand "${entry.path}": wildcards in include:local need the repository's file list`,
      entry.at,
    );
    return [];
  }
  const files = await repositoryFiles(state);
  const pattern = RE2JS.compile(
    `^${entry.path
      .split('**')
      .map((part) => part.split('*').map(RE2JS.quote).join('[^/]*?'))
      .join('.*?')}$`,
  );
  const matches = files.filter((file) => /\.ya?ml$/i.test(file) && pattern.matcher(file).matches());
  if (matches.length === 0) {
    state.problems.warn(
      entry.where,
      `"${entry.path}" matches no .yml or .yaml file of the repository`,
      entry.at,
    );
  }
  return matches.map((path) => ({ ...entry, path }));
}

/** `fromRemote`: `config` came through include:remote, whose nested includes GitLab reads without the project's context. */
async function expand(
  config: MapNode,
  state: IncludeState,
  depth: number,
  fromRemote: boolean,
): Promise<MapNode> {
  const include = config.entries.get('include');
  if (include === undefined) return config;
  let merged: TreeNode | null = null;
  const entries: IncludeEntry[] = [];
  // GitLab gives the nested includes of a remote file no variables (no context).
  const variables = fromRemote ? {} : state.variables;
  for (const entry of includeEntries(include, state.problems, variables)) {
    if (fromRemote && entry.remote === null) {
      state.problems.error(
        entry.where,
        `include:local "${entry.path}" is not allowed in a file included with include:remote: its nested includes are read without this project, so they may include remote files only`,
        entry.at,
      );
      continue;
    }
    if (entry.rules !== null && !(await includeAllowed(entry.rules, state, variables))) continue;
    if (entry.remote === null && entry.path.includes('*'))
      entries.push(...(await expandWildcard(entry, state)));
    else entries.push(entry);
  }
  for (const entry of entries) {
    const { path, inputs, at, where } = entry;
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
    // The same file with other inputs is another configuration, as in GitLab.
    const identity = entry.remote === null ? path : entry.remote.url.href;
    const key = inputs === null ? identity : `${identity}\u0000${JSON.stringify(plainValue(inputs))}`;
    if (state.seen.has(key)) continue;
    state.seen.add(key);
    let content: string | undefined;
    if (entry.remote !== null) {
      content = await fetchRemoteInclude(entry.remote, entry.integrity, state.fetchRemoteFile, {
        where,
        at,
        problems: state.problems,
      });
      if (content === undefined) continue;
    } else if (state.readLocalFile === undefined) {
      state.problems.error(
        where,
        `cannot read "${path}": include:local needs the repository (tessera ci lint --dir REPO)`,
        at,
      );
      continue;
    } else {
      try {
        content = await state.readLocalFile(path);
      } catch (error) {
        // A reader that can tell a file too large from a missing one says so in its error.
        if (isTesseraError(error) && error.code === 'ERR_PIPELINE_INVALID') {
          state.problems.error('include', error.message, at);
          continue;
        }
        content = undefined;
      }
    }
    if (content === undefined) {
      state.problems.error(where, `local file "${path}" does not exist in the repository`, at);
      continue;
    }
    const read = parseConfigFile(content, path, state.problems, state.budget);
    if (read.body === null) continue;
    let parsed = read.body;
    if (read.header !== null) {
      parsed = applyHeader(read.header, parsed, inputs, `${where}.inputs`, at, state.problems, variables);
    } else if (inputs !== null) {
      state.problems.error(
        `${where}.inputs`,
        `"${path}" takes no inputs: it has no spec:inputs header (spec: { inputs: … } followed by a --- line)`,
        inputs,
      );
    }
    if (parsed.kind !== 'map') {
      state.problems.error(where, `"${path}" must contain a mapping of keywords and jobs`, at);
      continue;
    }
    state.onInclude?.(path);
    const nested = await expand(parsed, state, depth + 1, fromRemote || entry.remote !== null);
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

interface IncludeEntry {
  /** The repository path, or for a remote include the URL as messages show it. */
  readonly path: string;
  /** The URL of an `include:remote` entry; `null` for a local one. */
  readonly remote: RemoteLocation | null;
  /** `integrity:` of a remote entry: the base64 SHA-256 digest, `null` when absent. */
  readonly integrity: string | null;
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
    let path: string | null = null;
    let inputs: MapNode | null = null;
    let rules: RuleSpec[] | null = null;
    if (item.kind === 'scalar' && typeof item.value === 'string') {
      if (looksLikeUrl(item.value)) {
        const remote = parseRemoteLocation(item.value, variables);
        if ('error' in remote) problems.error(where, remote.error, item);
        else entries.push({ path: remote.display, remote, integrity: null, inputs, at: item, where, rules });
        return;
      }
      path = item.value;
    } else if (item.kind === 'map') {
      for (const key of item.entries.keys()) {
        if (INCLUDE_KEYWORDS.includes(key)) continue;
        const known = ['remote', 'project', 'file', 'ref', 'template', 'component', 'integrity', 'cache'];
        problems.error(
          `${where}.${key}`,
          known.includes(key)
            ? `include:${key} is not supported yet by Tessera; use include:local (with inputs) for files of this repository`
            : `unknown include keyword "${key}"; write include: { local: path/to/file.yml }`,
          keyPosition(item, key),
        );
      }
      const rulesNode = item.entries.get('rules');
      if (rulesNode !== undefined) {
        rules = readRules(rulesNode, `${where}.rules`, problems, { workflow: true });
        for (const [index, rule] of (rules ?? []).entries()) {
          if (rule.changes != null)
            problems.warn(
              `${where}.rules[${index}].changes`,
              'include:rules:changes has no base while the configuration is read; it always holds',
              rulesNode,
            );
        }
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
      if (item.entries.has('remote') || item.entries.has('integrity') || item.entries.has('cache')) {
        const read = readRemoteEntry(item, where, problems, variables);
        if (read !== null)
          entries.push({ path: read.remote.display, ...read, inputs, at: item, where, rules });
        return;
      }
      const local = item.entries.get('local');
      if (local === undefined) {
        if (item.entries.size === 0)
          problems.error(where, 'write include: { local: path/to/file.yml }', item);
        return;
      }
      if (local.kind !== 'scalar' || typeof local.value !== 'string') {
        problems.error(`${where}.local`, `must be a file path, not ${describeNode(local)}`, local);
        return;
      }
      path = local.value;
    } else {
      problems.error(where, `must be a file path or { local: path }, not ${describeNode(item)}`, item);
      return;
    }
    const normalised = normaliseLocalPath(path);
    if ('error' in normalised) problems.error(where, normalised.error, item);
    else
      entries.push({ path: normalised.path, remote: null, integrity: null, inputs, at: item, where, rules });
  });
  return entries;
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
