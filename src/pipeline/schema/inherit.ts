import type { ProblemList } from '../config-problem.js';
import { describeNode, type TreeNode } from '../yaml-tree.js';
import { checkKeys, readBoolean, readStringList } from './read-value.js';

/** The `default` keywords `inherit:default` may list, as GitLab. */
const DEFAULT_KEYWORDS = [
  'after_script',
  'artifacts',
  'before_script',
  'cache',
  'hooks',
  'id_tokens',
  'image',
  'interruptible',
  'retry',
  'services',
  'tags',
  'timeout',
];

/** `inherit`: which `default` keywords and which global variables a job takes (`true`: all). */
export interface InheritSpec {
  readonly default: boolean | readonly string[];
  readonly variables: boolean | readonly string[];
}

/** Reads `inherit: { default: true|false|[keywords], variables: true|false|[names] }`. */
export function readInherit(node: TreeNode, path: string, problems: ProblemList): InheritSpec {
  const inherit: { default: boolean | string[]; variables: boolean | string[] } = {
    default: true,
    variables: true,
  };
  if (node.kind !== 'map') {
    problems.error(path, `must be { default: …, variables: … }, not ${describeNode(node)}`, node);
    return inherit;
  }
  checkKeys(node, path, new Set(['default', 'variables']), problems);
  for (const key of ['default', 'variables'] as const) {
    const value = node.entries.get(key);
    if (value === undefined) continue;
    const where = `${path}.${key}`;
    if (value.kind === 'scalar' && typeof value.value === 'boolean') {
      inherit[key] = readBoolean(value, where, problems) ?? true;
      continue;
    }
    const list = readStringList(value, where, problems);
    if (list === null) continue;
    if (key === 'default') {
      const unknown = list.filter((name) => !DEFAULT_KEYWORDS.includes(name));
      if (unknown.length > 0) {
        problems.error(
          where,
          `"${unknown.join('", "')}" cannot be inherited; use ${DEFAULT_KEYWORDS.join(', ')}`,
          value,
        );
        continue;
      }
    }
    inherit[key] = list;
  }
  return inherit;
}

/** Whether the job takes the `default` keyword (or global variable) `name`. */
export function inherits(setting: boolean | readonly string[], name: string): boolean {
  return setting === true || (Array.isArray(setting) && setting.includes(name));
}
