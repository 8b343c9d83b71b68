import type { InputDefinition } from './inputs.js';
import type { MapNode, TreeNode } from './yaml-tree.js';

/**
 * Input values given to a configuration's `spec:inputs` from outside its YAML: the pipelines API's
 * `inputs` hash, a trigger's `inputs[name]`, a bridge's `trigger:inputs`. JSON values: strings,
 * numbers, booleans, and lists or mappings of them.
 */
export type PipelineInputValues = Readonly<Record<string, unknown>>;

/** GitLab's limit on the inputs of one pipeline. */
export const MAX_PIPELINE_INPUTS = 50;

/** How deep a list or mapping value may nest. */
const MAX_VALUE_DEPTH = 10;

/**
 * The given values as the tree `include:inputs` would give (so the same checks apply), each node
 * positioned in `file` without a line. A string given for a number, boolean or array input is read
 * as one (`"3"`, `"true"`, `'["a","b"]'`): form fields and query strings carry only strings.
 * Answers the first value that is no input value (null, too deep) by its name.
 */
export function pipelineInputsNode(
  values: PipelineInputValues,
  definitions: ReadonlyMap<string, InputDefinition>,
  file: string,
): MapNode | { name: string; error: string } {
  const entries = new Map<string, TreeNode>();
  const keyLines = new Map<string, number | null>();
  for (const [name, raw] of Object.entries(values)) {
    const value = coerce(raw, definitions.get(name)?.type);
    const node = valueNode(value, file, 0);
    if (node === null)
      return {
        name,
        error: `input "${name}" must be a string, a number, true or false, or a list or mapping of those`,
      };
    entries.set(name, node);
    keyLines.set(name, null);
  }
  return { kind: 'map', entries, keyLines, line: null, file };
}

function coerce(value: unknown, type: InputDefinition['type'] | undefined): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (type === 'number' && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (type === 'boolean' && (text === 'true' || text === 'false')) return text === 'true';
  if (type === 'array' && text.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed)) return parsed;
    } catch {
      // Not JSON: left a string, and the type check says what is wrong.
    }
  }
  return value;
}

function valueNode(value: unknown, file: string, depth: number): TreeNode | null {
  if (depth > MAX_VALUE_DEPTH) return null;
  if (typeof value === 'string' || typeof value === 'boolean')
    return { kind: 'scalar', value, line: null, file };
  if (typeof value === 'number')
    return Number.isFinite(value) ? { kind: 'scalar', value, line: null, file } : null;
  if (Array.isArray(value)) {
    const items: TreeNode[] = [];
    for (const item of value) {
      const node = valueNode(item, file, depth + 1);
      if (node === null) return null;
      items.push(node);
    }
    return { kind: 'seq', items, line: null, file };
  }
  if (typeof value === 'object' && value !== null) {
    const entries = new Map<string, TreeNode>();
    const keyLines = new Map<string, number | null>();
    for (const [key, item] of Object.entries(value)) {
      const node = valueNode(item, file, depth + 1);
      if (node === null) return null;
      entries.set(key, node);
      keyLines.set(key, null);
    }
    return { kind: 'map', entries, keyLines, line: null, file };
  }
  return null;
}
