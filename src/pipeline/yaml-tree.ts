/**
 * The pipeline passes work on this small tree instead of the `yaml` package's document model: every
 * node carries its line (and file, for included files), aliases and merge keys are already
 * expanded, and `!reference` tags are explicit nodes. Nodes are never mutated after parsing; the
 * passes build new nodes, which keeps shared alias targets safe.
 */
export type TreeNode = ScalarNode | MapNode | SeqNode | ReferenceNode;

/** Position shared by every node. */
interface NodeBase {
  readonly line: number | null;
  readonly file?: string | undefined;
}

/** A string, number, boolean or null. */
export interface ScalarNode extends NodeBase {
  readonly kind: 'scalar';
  readonly value: string | number | boolean | null;
}

/** A mapping with string keys in file order; `keyLines` has the line of each key. */
export interface MapNode extends NodeBase {
  readonly kind: 'map';
  readonly entries: ReadonlyMap<string, TreeNode>;
  readonly keyLines: ReadonlyMap<string, number | null>;
}

/** A sequence. */
export interface SeqNode extends NodeBase {
  readonly kind: 'seq';
  readonly items: readonly TreeNode[];
}

/** A `!reference [job, key, …]` tag, resolved by the reference pass. */
export interface ReferenceNode extends NodeBase {
  readonly kind: 'reference';
  readonly target: readonly string[];
}

/** Builds a mapping node from entries, copying the key lines it knows. */
export function makeMap(
  entries: Map<string, TreeNode>,
  keyLines: Map<string, number | null>,
  at: { line: number | null; file?: string | undefined },
): MapNode {
  return { kind: 'map', entries, keyLines, line: at.line, file: at.file };
}

/** The position of the key `key` inside `map` (falls back to the map itself). */
export function keyPosition(map: MapNode, key: string): { line: number | null; file?: string | undefined } {
  const line = map.keyLines.get(key);
  return { line: line ?? map.line, file: map.file };
}

/** A short description of a node's type for error messages (`a mapping`, `a string`, …). */
export function describeNode(node: TreeNode): string {
  switch (node.kind) {
    case 'map':
      return 'a mapping';
    case 'seq':
      return 'a list';
    case 'reference':
      return 'a !reference tag';
    case 'scalar':
      if (node.value === null) return 'empty (null)';
      if (typeof node.value === 'boolean') return `the boolean ${node.value}`;
      if (typeof node.value === 'number') return `the number ${node.value}`;
      return 'a string';
  }
}

/**
 * Deep merge as GitLab's `extends` and `include` do: mappings merge key by key, recursively;
 * anything else (lists included) in `override` replaces what `base` had.
 */
export function deepMerge(base: TreeNode, override: TreeNode, charge?: (amount: number) => void): TreeNode {
  if (base.kind !== 'map' || override.kind !== 'map') return override;
  charge?.(base.entries.size + override.entries.size);
  const entries = new Map(base.entries);
  const keyLines = new Map(base.keyLines);
  for (const [key, value] of override.entries) {
    const previous = entries.get(key);
    entries.set(key, previous === undefined ? value : deepMerge(previous, value, charge));
    keyLines.set(key, override.keyLines.get(key) ?? null);
  }
  return makeMap(entries, keyLines, override);
}

const sizes = new WeakMap<TreeNode, number>();

/**
 * Number of nodes in `node` counting every shared subtree each time it appears (what a walk over
 * it visits). Memoised per node, so computing it costs one visit per distinct node.
 */
export function treeSize(node: TreeNode, cap = Number.POSITIVE_INFINITY): number {
  if (node.kind === 'scalar' || node.kind === 'reference') return 1;
  const known = sizes.get(node);
  if (known !== undefined) return known;
  let size = 1;
  const children = node.kind === 'seq' ? node.items : node.entries.values();
  for (const child of children) {
    size += treeSize(child, cap - size);
    // Past the cap the caller only needs to know that; a partial count is not memoised.
    if (size > cap) return size;
  }
  sizes.set(node, size);
  return size;
}
