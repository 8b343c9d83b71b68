import { isTesseraError } from '../errors.js';
import type { ProblemList } from './config-problem.js';
import { PIPELINE_LIMITS } from './limits.js';
import { type ParseBudget, parseYaml } from './parse.js';
import type { WorkBudget } from './work-budget.js';
import { deepMerge, describeNode, type MapNode, type TreeNode } from './yaml-tree.js';

/** Reads a file of the repository by its path from the repository root; `undefined` when absent. */
export type ReadLocalFile = (path: string) => Promise<string | undefined>;

interface IncludeState {
  readonly readLocalFile: ReadLocalFile | undefined;
  readonly problems: ProblemList;
  readonly budget: ParseBudget;
  readonly work: WorkBudget;
  readonly seen: Set<string>;
  count: number;
}

/**
 * Include pass: reads every `include:local` file (recursively, each once) and deep-merges them
 * under the including file, as GitLab does: included files in order, then the including file on
 * top, so its own keys win. Remote, project, template and component includes are refused.
 */
export async function resolveIncludes(
  root: MapNode,
  readLocalFile: ReadLocalFile | undefined,
  problems: ProblemList,
  budget: ParseBudget,
  work: WorkBudget,
): Promise<MapNode> {
  const state: IncludeState = { readLocalFile, problems, budget, work, seen: new Set(), count: 0 };
  return expand(root, state, 0);
}

async function expand(config: MapNode, state: IncludeState, depth: number): Promise<MapNode> {
  const include = config.entries.get('include');
  if (include === undefined) return config;
  const paths = includePaths(include, state.problems);
  let merged: TreeNode | null = null;
  for (const { path, at } of paths) {
    if (state.seen.has(path)) continue;
    state.seen.add(path);
    state.count += 1;
    if (state.count > PIPELINE_LIMITS.maxIncludes || depth > PIPELINE_LIMITS.maxIncludes) {
      state.problems.error('include', `more than ${PIPELINE_LIMITS.maxIncludes} included files`, at);
      break;
    }
    if (state.readLocalFile === undefined) {
      state.problems.error(
        'include',
        `cannot read "${path}": include:local needs the repository (tessera ci lint --dir REPO)`,
        at,
      );
      continue;
    }
    let content: string | undefined;
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
    if (content === undefined) {
      state.problems.error('include', `local file "${path}" does not exist in the repository`, at);
      continue;
    }
    const parsed = parseYaml(content, path, state.problems, state.budget);
    if (parsed === null) continue;
    if (parsed.kind !== 'map') {
      state.problems.error('include', `"${path}" must contain a mapping of keywords and jobs`, at);
      continue;
    }
    const nested = await expand(parsed, state, depth + 1);
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

function includePaths(include: TreeNode, problems: ProblemList): { path: string; at: TreeNode }[] {
  const items = include.kind === 'seq' ? include.items : [include];
  const paths: { path: string; at: TreeNode }[] = [];
  items.forEach((item, index) => {
    const where = include.kind === 'seq' ? `include[${index}]` : 'include';
    let path: string | null = null;
    if (item.kind === 'scalar' && typeof item.value === 'string') {
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(item.value)) {
        problems.error(
          where,
          'remote includes are not supported; copy the file into the repository and use include:local',
          item,
        );
        return;
      }
      path = item.value;
    } else if (item.kind === 'map') {
      for (const key of item.entries.keys()) {
        if (key === 'local') continue;
        const known = [
          'remote',
          'project',
          'file',
          'ref',
          'template',
          'component',
          'rules',
          'inputs',
          'integrity',
          'cache',
        ];
        problems.error(
          `${where}.${key}`,
          known.includes(key)
            ? `include:${key} is not supported; Tessera reads include:local only`
            : `unknown include keyword "${key}"; write include: { local: path/to/file.yml }`,
          item,
        );
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
    else paths.push({ path: normalised.path, at: item });
  });
  return paths;
}

/** A repository path from an `include:local` value: no `..`, no wildcards, relative to the root. */
function normaliseLocalPath(raw: string): { path: string } | { error: string } {
  const trimmed = raw.trim().replace(/^\/+/, '');
  if (trimmed === '') return { error: 'the include path is empty' };
  if (/[*?[\]{}]/.test(trimmed))
    return { error: `wildcards in include paths are not supported ("${raw}"); list the files` };
  if (trimmed.includes('\0') || trimmed.split('/').some((segment) => segment === '..')) {
    return { error: `"${raw}" leaves the repository; include paths are relative to the repository root` };
  }
  if (!/\.ya?ml$/i.test(trimmed)) return { error: `"${raw}" must be a .yml or .yaml file` };
  return {
    path: trimmed
      .split('/')
      .filter((segment) => segment !== '' && segment !== '.')
      .join('/'),
  };
}
