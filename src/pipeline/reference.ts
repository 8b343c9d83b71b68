import type { ProblemList } from './config-problem.js';
import { PIPELINE_LIMITS } from './limits.js';
import type { WorkBudget } from './work-budget.js';
import type { MapNode, ReferenceNode, TreeNode } from './yaml-tree.js';

/**
 * Reference pass: replaces every `!reference [name, key, …]` with a copy of what it points to
 * (looked up in the merged configuration, so it works across included files). References inside
 * the referenced value are resolved too, up to {@link PIPELINE_LIMITS.maxReferenceDepth} levels; a
 * reference that yields a list inside a list is spliced in, as GitLab flattens `script` and `rules`.
 */
export function resolveReferences(root: MapNode, problems: ProblemList, budget: WorkBudget): MapNode {
  const resolver = new Resolver(root, problems, budget);
  const resolved = resolver.walk(root, [], 0);
  return resolved.kind === 'map' ? resolved : root;
}

class Resolver {
  private readonly memo = new Map<string, TreeNode | null>();

  constructor(
    private readonly root: MapNode,
    private readonly problems: ProblemList,
    private readonly budget: WorkBudget,
  ) {}

  walk(node: TreeNode, path: readonly string[], depth: number): TreeNode {
    switch (node.kind) {
      case 'scalar':
        return node;
      case 'reference':
        // A failed reference becomes an empty list: spliced into a list it vanishes, so the
        // reference error is not followed by a second, confusing one about the same line.
        return (
          this.resolve(node, path, depth) ?? { kind: 'seq', items: [], line: node.line, file: node.file }
        );
      case 'seq': {
        if (!containsReference(node)) return node;
        this.budget.charge(node.items.length);
        const items: TreeNode[] = [];
        node.items.forEach((item, index) => {
          const resolved = this.walk(item, [...path, `[${index}]`], depth);
          // GitLab keeps a referenced list nested inside a script (flattened later, within its
          // nesting limit); elsewhere (rules, needs, …) the list is spliced in.
          if (item.kind === 'reference' && resolved.kind === 'seq' && !path.some(isScriptKey)) {
            this.budget.charge(resolved.items.length);
            for (const spliced of resolved.items) items.push(spliced);
          } else items.push(resolved);
        });
        return { ...node, items };
      }
      case 'map': {
        if (!containsReference(node)) return node;
        this.budget.charge(node.entries.size);
        const entries = new Map<string, TreeNode>();
        for (const [key, value] of node.entries) entries.set(key, this.walk(value, [...path, key], depth));
        return { ...node, entries };
      }
    }
  }

  private resolve(node: ReferenceNode, path: readonly string[], depth: number): TreeNode | null {
    const where = pathText(path);
    const shown = `!reference [${node.target.join(', ')}]`;
    if (depth >= PIPELINE_LIMITS.maxReferenceDepth) {
      this.problems.error(
        where,
        `${shown} nests more than ${PIPELINE_LIMITS.maxReferenceDepth} references deep (or refers to itself)`,
        node,
      );
      return null;
    }
    const key = node.target.join('\u0000');
    if (this.memo.has(key)) return this.memo.get(key) ?? null;
    let current: TreeNode = this.root;
    for (const [index, name] of node.target.entries()) {
      const next: TreeNode | undefined = current.kind === 'map' ? current.entries.get(name) : undefined;
      if (next === undefined) {
        const parent = index === 0 ? 'the configuration' : `"${node.target.slice(0, index).join('.')}"`;
        this.problems.error(where, `${shown}: "${name}" does not exist in ${parent}`, node);
        return null;
      }
      current = next;
    }
    // A self-reference recurses here until the depth limit above stops it.
    const resolved = this.walk(current, path, depth + 1);
    this.memo.set(key, resolved);
    return resolved;
  }
}

const SCRIPT_KEYS = new Set(['script', 'before_script', 'after_script']);

function isScriptKey(part: string): boolean {
  return SCRIPT_KEYS.has(part);
}

const referenceMemo = new WeakMap<TreeNode, boolean>();

function containsReference(node: TreeNode): boolean {
  if (node.kind === 'reference') return true;
  if (node.kind === 'scalar') return false;
  const known = referenceMemo.get(node);
  if (known !== undefined) return known;
  // Memoised per node: alias targets are shared, so each is scanned once.
  const children = node.kind === 'seq' ? node.items : [...node.entries.values()];
  const found = children.some(containsReference);
  referenceMemo.set(node, found);
  return found;
}

/** `jobs.build.script[2]`-style path for a node path inside the configuration. */
export function pathText(path: readonly string[]): string {
  if (path.length === 0) return '(root)';
  const [first, ...rest] = path;
  const head = first !== undefined && isTopLevelKeyword(first) ? first : `jobs.${first}`;
  return rest.reduce((text, part) => (part.startsWith('[') ? `${text}${part}` : `${text}.${part}`), head);
}

/** The top-level keywords (anything else at the top is a job); `cache` and `types` are refused. */
export const TOP_LEVEL = new Set([
  'stages',
  'variables',
  'default',
  'workflow',
  'include',
  'image',
  'services',
  'before_script',
  'after_script',
  'cache',
  'types',
  'spec',
]);

/** Whether a top-level key is a keyword rather than a job name. */
export function isTopLevelKeyword(key: string): boolean {
  return TOP_LEVEL.has(key);
}
