import type { ProblemList } from '../config-problem.js';
import { PIPELINE_LIMITS } from '../limits.js';
import { setOwn } from '../set-own.js';
import { describeNode, keyPosition, type MapNode, type TreeNode } from '../yaml-tree.js';

/**
 * Typed readers for the schema pass. Each reads one node, records a problem naming `path` and
 * saying what to write when the node has the wrong shape, and answers `null` then.
 */

/** A string (numbers are accepted and turned into their text, as GitLab does for names). */
export function readString(
  node: TreeNode,
  path: string,
  problems: ProblemList,
  what = 'a string',
): string | null {
  if (node.kind === 'scalar' && typeof node.value === 'string') return node.value;
  if (node.kind === 'scalar' && typeof node.value === 'number') return String(node.value);
  problems.error(path, `must be ${what}, not ${describeNode(node)}`, node);
  return null;
}

/** `true` or `false`. */
export function readBoolean(node: TreeNode, path: string, problems: ProblemList): boolean | null {
  if (node.kind === 'scalar' && typeof node.value === 'boolean') return node.value;
  const hint =
    node.kind === 'scalar' && typeof node.value === 'string' ? ` (write true or false without quotes)` : '';
  problems.error(path, `must be true or false, not ${describeNode(node)}${hint}`, node);
  return null;
}

/** A non-negative integer within `[min, max]`. */
export function readInteger(
  node: TreeNode,
  path: string,
  problems: ProblemList,
  min: number,
  max: number,
): number | null {
  if (node.kind === 'scalar' && typeof node.value === 'number' && Number.isInteger(node.value)) {
    if (node.value >= min && node.value <= max) return node.value;
    problems.error(path, `must be between ${min} and ${max}, not ${node.value}`, node);
    return null;
  }
  problems.error(path, `must be a whole number between ${min} and ${max}, not ${describeNode(node)}`, node);
  return null;
}

/** A list of strings; a single string is accepted as a one-element list when `allowSingle`. */
export function readStringList(
  node: TreeNode,
  path: string,
  problems: ProblemList,
  options: { allowSingle?: boolean } = {},
): string[] | null {
  if (options.allowSingle === true && node.kind === 'scalar' && typeof node.value === 'string')
    return [node.value];
  if (node.kind !== 'seq') {
    const hint =
      options.allowSingle !== true && node.kind === 'scalar' && typeof node.value === 'string'
        ? ` (write [${node.value}])`
        : '';
    problems.error(
      path,
      `must be a list of strings${options.allowSingle === true ? ' or a string' : ''}, not ${describeNode(node)}${hint}`,
      node,
    );
    return null;
  }
  const values: string[] = [];
  let ok = true;
  node.items.forEach((item, index) => {
    const value = readString(item, `${path}[${index}]`, problems);
    if (value === null) ok = false;
    else values.push(value);
  });
  return ok ? values : null;
}

/**
 * A script: a string or a list of strings, where lists may nest (from `!reference`) up to
 * {@link PIPELINE_LIMITS.maxScriptNesting} levels and are flattened, as GitLab.
 */
export function readScript(node: TreeNode, path: string, problems: ProblemList): string[] | null {
  if (node.kind === 'scalar' && (typeof node.value === 'string' || typeof node.value === 'number')) {
    return [String(node.value)];
  }
  if (node.kind !== 'seq') {
    problems.error(path, `must be a command or a list of commands, not ${describeNode(node)}`, node);
    return null;
  }
  const lines: string[] = [];
  let ok = true;
  const visit = (list: readonly TreeNode[], depth: number, prefix: string): void => {
    list.forEach((item, index) => {
      const itemPath = `${prefix}[${index}]`;
      if (item.kind === 'seq') {
        if (depth >= PIPELINE_LIMITS.maxScriptNesting) {
          problems.error(
            itemPath,
            `script lists nest more than ${PIPELINE_LIMITS.maxScriptNesting} levels`,
            item,
          );
          ok = false;
          return;
        }
        visit(item.items, depth + 1, itemPath);
      } else if (
        item.kind === 'scalar' &&
        (typeof item.value === 'string' || typeof item.value === 'number')
      ) {
        lines.push(String(item.value));
      } else {
        const hint =
          item.kind === 'map' ? ' (a line with ": " is read as a mapping; quote the whole line)' : '';
        problems.error(itemPath, `must be a command (a string), not ${describeNode(item)}${hint}`, item);
        ok = false;
      }
    });
  };
  visit(node.items, 1, path);
  return ok ? lines : null;
}

const VARIABLE_NAME = /^[A-Za-z0-9_]+$/;

/**
 * A `variables` mapping: values are strings or numbers (booleans must be quoted, as GitLab), or
 * `{ value, description, expand, options }` (the long form; `options` only where `allowOptions`).
 */
export function readVariables(
  node: TreeNode,
  path: string,
  problems: ProblemList,
  options: { allowOptions?: boolean } = {},
): Record<string, string> {
  const result: Record<string, string> = {};
  if (node.kind === 'scalar' && node.value === null) return result;
  if (node.kind !== 'map') {
    problems.error(path, `must be a mapping of NAME: value, not ${describeNode(node)}`, node);
    return result;
  }
  for (const [name, value] of node.entries) {
    const where = `${path}.${name}`;
    const at = keyPosition(node, name);
    if (!VARIABLE_NAME.test(name)) {
      problems.error(where, 'variable names may contain only letters, digits and _', at);
      continue;
    }
    const scalar = variableValue(value, where, problems, options.allowOptions === true);
    if (scalar !== null) setOwn(result, name, scalar);
  }
  return result;
}

function variableValue(
  value: TreeNode,
  path: string,
  problems: ProblemList,
  allowOptions: boolean,
): string | null {
  if (value.kind === 'scalar') {
    if (typeof value.value === 'string') return value.value;
    if (typeof value.value === 'number') return String(value.value);
    if (value.value === null) return '';
    problems.error(path, `must be a string or a number; quote it: "${String(value.value)}"`, value);
    return null;
  }
  if (value.kind !== 'map') {
    problems.error(path, `must be a string, a number or { value: … }, not ${describeNode(value)}`, value);
    return null;
  }
  const allowed = allowOptions
    ? ['value', 'description', 'expand', 'options']
    : ['value', 'description', 'expand'];
  for (const key of value.entries.keys()) {
    if (!allowed.includes(key)) {
      problems.error(
        `${path}.${key}`,
        `unknown variable keyword "${key}"; use ${allowed.join(', ')}`,
        keyPosition(value, key),
      );
    }
  }
  const expand = value.entries.get('expand');
  if (expand !== undefined) readBoolean(expand, `${path}.expand`, problems);
  const description = value.entries.get('description');
  if (description !== undefined) readString(description, `${path}.description`, problems);
  const inner = value.entries.get('value');
  const text = inner === undefined ? '' : variableValue(inner, `${path}.value`, problems, false);
  const choices = value.entries.get('options');
  if (choices !== undefined && text !== null) {
    const list = readStringList(choices, `${path}.options`, problems);
    if (list !== null && !list.includes(text)) {
      problems.error(
        `${path}.value`,
        `"${text}" must be one of the options (${list.join(', ')})`,
        inner ?? value,
      );
    }
  }
  return text;
}

/** Reports every key of `map` not in `allowed`, with a hint for known-but-unsupported GitLab keywords. */
export function checkKeys(
  map: MapNode,
  path: string,
  allowed: ReadonlySet<string>,
  problems: ProblemList,
  unsupported: ReadonlySet<string> = new Set(),
): void {
  for (const key of map.entries.keys()) {
    if (allowed.has(key)) continue;
    const at = keyPosition(map, key);
    if (unsupported.has(key)) {
      problems.error(`${path}.${key}`, `"${key}" is a GitLab keyword that Tessera does not support yet`, at);
    } else {
      problems.error(
        `${path}.${key}`,
        `unknown keyword "${key}"; the keywords here are ${[...allowed].sort().join(', ')}`,
        at,
      );
    }
  }
}
