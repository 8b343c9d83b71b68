import { RE2JS } from 're2js';
import type { ProblemList, SourcePosition } from './config-problem.js';
import { expandVariables } from './expand-variables.js';
import { PIPELINE_LIMITS } from './limits.js';
import { describeNode, keyPosition, type MapNode, type TreeNode } from './yaml-tree.js';

/** The types a `spec:inputs` entry may declare, as GitLab. */
export type InputType = 'string' | 'number' | 'boolean' | 'array';

/** One `spec:inputs` entry. */
export interface InputDefinition {
  readonly type: InputType;
  /** `undefined` makes the input required. */
  readonly default: TreeNode | undefined;
  readonly options: readonly (string | number | boolean)[] | null;
  readonly regex: RE2JS | null;
  readonly description: string | null;
}

const INPUT_KEYS = new Set(['type', 'default', 'description', 'options', 'regex']);
const SPEC_KEYS = new Set(['inputs', 'description', 'component', 'include']);
/** GitLab allows at most 50 `options` per input. */
const MAX_OPTIONS = 50;
/** GitLab allows at most 3 functions in one interpolation block. */
const MAX_FUNCTIONS = 3;

/**
 * What `$[[ component.* ]]` gives in a file read with `include:component` (GitLab's component
 * context): the component's name, the commit it was read at, the version as written in the
 * address (`reference`), and the semantic version that names (`version`: the tag `~latest` or a
 * partial version resolved to, the version itself when written in full; `null` for a branch or SHA).
 */
export interface ComponentContext {
  readonly name: string;
  readonly sha: string;
  readonly version: string | null;
  readonly reference: string;
}

/** The fields `spec:component` may declare, GitLab's. */
export const COMPONENT_FIELDS: readonly (keyof ComponentContext)[] = ['name', 'sha', 'version', 'reference'];

/**
 * Reads `spec:component: [name, sha, version, reference]`: the component fields the file's
 * `$[[ component.* ]]` blocks may use. Mistakes are recorded under `spec.component`.
 */
export function readComponentFields(spec: MapNode, problems: ProblemList): Set<string> {
  const fields = new Set<string>();
  const node = spec.entries.get('component');
  if (node === undefined) return fields;
  const items = node.kind === 'seq' ? node.items : null;
  if (items === null) {
    problems.error(
      'spec.component',
      `must be a list of component fields, e.g. [${COMPONENT_FIELDS.join(', ')}], not ${describeNode(node)}`,
      node,
    );
    return fields;
  }
  for (const item of items) {
    const value = item.kind === 'scalar' ? item.value : null;
    if (typeof value === 'string' && (COMPONENT_FIELDS as readonly string[]).includes(value))
      fields.add(value);
    else
      problems.error(
        'spec.component',
        `"${value === null ? describeNode(item) : String(value)}" is not a component field; use ${COMPONENT_FIELDS.join(', ')}`,
        item,
      );
  }
  return fields;
}

/** Reads `spec:inputs` of a header; every mistake is recorded under `spec.inputs.<name>`. */
export function readInputDefinitions(spec: MapNode, problems: ProblemList): Map<string, InputDefinition> {
  const definitions = new Map<string, InputDefinition>();
  for (const key of spec.entries.keys()) {
    if (!SPEC_KEYS.has(key))
      problems.error(
        `spec.${key}`,
        `unknown spec keyword "${key}"; a header holds spec: { inputs: … }`,
        keyPosition(spec, key),
      );
  }
  const inputs = spec.entries.get('inputs');
  if (inputs === undefined || (inputs.kind === 'scalar' && inputs.value === null)) return definitions;
  if (inputs.kind !== 'map') {
    problems.error('spec.inputs', `must be a mapping of input names, not ${describeNode(inputs)}`, inputs);
    return definitions;
  }
  for (const [name, node] of inputs.entries) {
    const path = `spec.inputs.${name}`;
    const at = keyPosition(inputs, name);
    if (node.kind === 'scalar' && node.value === null) {
      definitions.set(name, {
        type: 'string',
        default: undefined,
        options: null,
        regex: null,
        description: null,
      });
      continue;
    }
    if (node.kind !== 'map') {
      problems.error(
        path,
        `must be a mapping (type, default, options, regex, description), not ${describeNode(node)}`,
        at,
      );
      continue;
    }
    for (const key of node.entries.keys()) {
      if (!INPUT_KEYS.has(key))
        problems.error(
          `${path}.${key}`,
          `unknown input keyword "${key}"; use ${[...INPUT_KEYS].join(', ')}`,
          keyPosition(node, key),
        );
    }
    const typeNode = node.entries.get('type');
    let type: InputType = 'string';
    if (typeNode !== undefined) {
      if (
        typeNode.kind === 'scalar' &&
        (typeNode.value === 'string' ||
          typeNode.value === 'number' ||
          typeNode.value === 'boolean' ||
          typeNode.value === 'array')
      ) {
        type = typeNode.value;
      } else {
        problems.error(`${path}.type`, 'must be string, number, boolean or array', typeNode);
        continue;
      }
    }
    const descriptionNode = node.entries.get('description');
    const description =
      descriptionNode?.kind === 'scalar' && typeof descriptionNode.value === 'string'
        ? descriptionNode.value
        : null;
    if (descriptionNode !== undefined && description === null)
      problems.error(`${path}.description`, 'must be a string', descriptionNode);
    let options: (string | number | boolean)[] | null = null;
    const optionsNode = node.entries.get('options');
    if (optionsNode !== undefined) {
      if (type === 'array' || type === 'boolean') {
        problems.error(
          `${path}.options`,
          `options can be used only with string and number inputs, not ${type}`,
          optionsNode,
        );
      } else if (optionsNode.kind !== 'seq' || optionsNode.items.some((item) => item.kind !== 'scalar')) {
        problems.error(`${path}.options`, 'must be a list of values', optionsNode);
      } else if (optionsNode.items.length > MAX_OPTIONS) {
        problems.error(`${path}.options`, `may list at most ${MAX_OPTIONS} values`, optionsNode);
      } else {
        options = optionsNode.items.map((item) => scalarValue(item) ?? '');
      }
    }
    let regex: RE2JS | null = null;
    const regexNode = node.entries.get('regex');
    if (regexNode !== undefined) {
      if (type !== 'string') {
        problems.error(`${path}.regex`, `regex can be used only with string inputs, not ${type}`, regexNode);
      } else if (regexNode.kind !== 'scalar' || typeof regexNode.value !== 'string') {
        problems.error(`${path}.regex`, 'must be a regular expression such as /^v\\d+$/', regexNode);
      } else {
        const literal = /^\/(.*)\/$/s.exec(regexNode.value);
        const source = literal === null ? regexNode.value : literal[1]!;
        try {
          regex = RE2JS.compile(source);
        } catch (error) {
          const reason = error instanceof Error ? error.message : 'invalid';
          problems.error(`${path}.regex`, `invalid RE2 regular expression: ${reason}`, regexNode);
        }
      }
    }
    const definition: InputDefinition = {
      type,
      default: node.entries.get('default'),
      options,
      regex,
      description,
    };
    if (definition.default !== undefined) {
      const why = invalidValue(name, definition, definition.default);
      if (why !== null) problems.error(`${path}.default`, `default value: ${why}`, definition.default);
    }
    definitions.set(name, definition);
  }
  return definitions;
}

/**
 * The value of every input: the given ones (from `include:inputs`) checked against their
 * definitions, the defaults for the rest. A required input without a value, an unknown input and a
 * value of the wrong type, outside `options` or not matching `regex` are errors at `path`.
 */
export function resolveInputValues(
  definitions: ReadonlyMap<string, InputDefinition>,
  given: MapNode | null,
  path: string,
  at: SourcePosition | null,
  problems: ProblemList,
): Map<string, TreeNode> {
  const values = new Map<string, TreeNode>();
  if (given !== null) {
    for (const [name, value] of given.entries) {
      if (!definitions.has(name)) {
        problems.error(
          `${path}.${name}`,
          `unknown input "${name}"; the file's spec:inputs declares ${[...definitions.keys()].join(', ') || 'none'}`,
          keyPosition(given, name),
        );
      }
      values.set(name, value);
    }
  }
  for (const [name, definition] of definitions) {
    const value = values.get(name) ?? definition.default;
    if (value === undefined) {
      problems.error(`${path}.${name}`, `input "${name}" is required: give it a value under inputs:`, at);
      continue;
    }
    const why = invalidValue(name, definition, value);
    if (why !== null) {
      problems.error(`${path}.${name}`, why, given?.entries.has(name) === true ? value : at);
      continue;
    }
    values.set(name, value);
  }
  return values;
}

function invalidValue(name: string, definition: InputDefinition, value: TreeNode): string | null {
  const scalar = scalarValue(value);
  switch (definition.type) {
    case 'array':
      if (value.kind !== 'seq') return `input "${name}" must be an array, not ${describeNode(value)}`;
      return null;
    case 'boolean':
      if (typeof scalar !== 'boolean')
        return `input "${name}" must be true or false, not ${describeNode(value)}`;
      return null;
    case 'number':
      if (typeof scalar !== 'number') return `input "${name}" must be a number, not ${describeNode(value)}`;
      break;
    case 'string':
      if (typeof scalar !== 'string') return `input "${name}" must be a string, not ${describeNode(value)}`;
      break;
  }
  if (definition.options !== null && !definition.options.some((option) => option === scalar)) {
    return `input "${name}": "${String(scalar)}" is not one of the options (${definition.options.join(', ')})`;
  }
  if (definition.regex !== null && typeof scalar === 'string' && !definition.regex.matcher(scalar).find()) {
    return `input "${name}": "${scalar}" does not match the regular expression of spec:inputs`;
  }
  return null;
}

function scalarValue(node: TreeNode): string | number | boolean | null {
  return node.kind === 'scalar' ? node.value : null;
}

const BLOCK = /\$\[\[(.*?)\]\]/gs;

/**
 * Replaces every `$[[ inputs.name | function(…) ]]` block in the keys and string values of `node`
 * with the input's value, as GitLab interpolates a file with a header. A string that is exactly one
 * block takes the input's own type (a list stays a list); within longer text the value is written
 * as text. Functions: `expand_vars` (with `variables`; unknown references stay as written),
 * `truncate(offset, length)` and `posix_escape`, at most three per block.
 */
export function interpolateInputs(
  node: TreeNode,
  values: ReadonlyMap<string, TreeNode>,
  variables: Readonly<Record<string, string>>,
  problems: ProblemList,
  component: ComponentInterpolation = { fields: new Set(), context: null },
): TreeNode {
  const context = { values, variables, problems, component };
  return walk(node, context);
}

/**
 * `$[[ component.* ]]` in one file: the fields its `spec:component` declares, and their values
 * (`null` when the file was not read with `include:component`).
 */
export interface ComponentInterpolation {
  readonly fields: ReadonlySet<string>;
  readonly context: ComponentContext | null;
}

interface InterpolationContext {
  readonly values: ReadonlyMap<string, TreeNode>;
  readonly variables: Readonly<Record<string, string>>;
  readonly problems: ProblemList;
  readonly component: ComponentInterpolation;
}

function walk(node: TreeNode, context: InterpolationContext): TreeNode {
  switch (node.kind) {
    case 'reference':
      return node;
    case 'scalar':
      return typeof node.value === 'string' && node.value.includes('$[[')
        ? interpolateString(node.value, node, context)
        : node;
    case 'seq':
      return { ...node, items: node.items.map((item) => walk(item, context)) };
    case 'map': {
      const entries = new Map<string, TreeNode>();
      const keyLines = new Map<string, number | null>();
      for (const [key, value] of node.entries) {
        let name = key;
        if (key.includes('$[[')) {
          const interpolated = interpolateString(
            key,
            { line: node.keyLines.get(key) ?? node.line, file: node.file },
            context,
          );
          name = interpolated.kind === 'scalar' ? String(interpolated.value ?? '') : key;
        }
        entries.set(name, walk(value, context));
        keyLines.set(name, node.keyLines.get(key) ?? null);
      }
      return { ...node, entries, keyLines };
    }
  }
}

function interpolateString(
  text: string,
  at: { line: number | null; file?: string | undefined },
  context: InterpolationContext,
): TreeNode {
  const whole = /^\$\[\[(.*?)\]\]$/s.exec(text);
  if (whole !== null && !whole[1]!.includes(']]')) {
    const value = evaluateBlock(whole[1]!, text, at, context);
    if (value === null) return { kind: 'scalar', value: text, line: at.line, file: at.file };
    return typeof value === 'string'
      ? { kind: 'scalar', value, line: at.line, file: at.file }
      : { ...value, line: at.line, file: at.file };
  }
  let failed = false;
  const replaced = text.replace(BLOCK, (_block, inner: string) => {
    const value = evaluateBlock(inner, text, at, context);
    if (value === null) {
      failed = true;
      return '';
    }
    return typeof value === 'string' ? value : nodeText(value);
  });
  if (failed) return { kind: 'scalar', value: text, line: at.line, file: at.file };
  if (replaced.length > PIPELINE_LIMITS.maxStringLength) {
    context.problems.error(
      'spec.inputs',
      `interpolation makes a string longer than ${PIPELINE_LIMITS.maxStringLength} characters`,
      at,
    );
    return { kind: 'scalar', value: '', line: at.line, file: at.file };
  }
  return { kind: 'scalar', value: replaced, line: at.line, file: at.file };
}

function evaluateBlock(
  inner: string,
  text: string,
  at: { line: number | null; file?: string | undefined },
  context: InterpolationContext,
): TreeNode | string | null {
  const [access = '', ...functions] = inner.split('|').map((part) => part.trim());
  const field = /^component\.([A-Za-z0-9_-]+)$/.exec(access)?.[1];
  const input = /^inputs\.([A-Za-z0-9_-]+)$/.exec(access)?.[1];
  if (input === undefined && field === undefined) {
    context.problems.error(
      'spec.inputs',
      `"$[[${inner}]]" must name an input as $[[ inputs.name ]] or a component field as $[[ component.name ]]`,
      at,
    );
    return null;
  }
  const value =
    field === undefined ? context.values.get(input as string) : componentValue(field, text, at, context);
  if (value === null) return null;
  if (value === undefined) {
    context.problems.error(
      'spec.inputs',
      `unknown input "${input}" in "${text}"; declare it under spec:inputs`,
      at,
    );
    return null;
  }
  if (functions.length === 0) return value;
  if (functions.length > MAX_FUNCTIONS) {
    context.problems.error(
      'spec.inputs',
      `"${text}" uses more than ${MAX_FUNCTIONS} functions in one block`,
      at,
    );
    return null;
  }
  let current = nodeText(value);
  for (const call of functions) {
    const parsed = /^([a-z_]+)(?:\((.*)\))?$/.exec(call);
    const fn = parsed?.[1];
    const args = parsed?.[2]?.split(',').map((arg) => arg.trim()) ?? [];
    if (fn === 'expand_vars' && args.length === 0) {
      current = expandVariables(current, context.variables, { unknown: 'keep' });
    } else if (fn === 'posix_escape' && args.length === 0) {
      current = posixEscape(current);
    } else if (fn === 'truncate' && args.length === 2 && args.every((arg) => /^\d+$/.test(arg))) {
      const offset = Number(args[0]);
      current = current.slice(offset, offset + Number(args[1]));
    } else {
      context.problems.error(
        'spec.inputs',
        `unknown function "${call}" in "${text}"; use expand_vars, truncate(offset, length) or posix_escape`,
        at,
      );
      return null;
    }
  }
  return current;
}

/** The value of `$[[ component.<field> ]]`, or `null` (reported) when the file may not use it. */
function componentValue(
  field: string,
  text: string,
  at: { line: number | null; file?: string | undefined },
  context: InterpolationContext,
): TreeNode | null {
  const { fields, context: component } = context.component;
  if (!(COMPONENT_FIELDS as readonly string[]).includes(field)) {
    context.problems.error(
      'spec.component',
      `unknown component field "${field}" in "${text}"; use ${COMPONENT_FIELDS.join(', ')}`,
      at,
    );
    return null;
  }
  if (!fields.has(field)) {
    context.problems.error(
      'spec.component',
      `"${text}" uses component.${field}, which the header does not declare; add it to spec: { component: [${field}] }`,
      at,
    );
    return null;
  }
  if (component === null) {
    context.problems.error(
      'spec.component',
      `"${text}" has a value only in a file included with include:component`,
      at,
    );
    return null;
  }
  const value = component[field as keyof ComponentContext];
  return { kind: 'scalar', value, line: at.line, file: at.file };
}

function nodeText(node: TreeNode): string {
  if (node.kind === 'scalar') return node.value === null ? '' : String(node.value);
  return JSON.stringify(plain(node));
}

function plain(node: TreeNode): unknown {
  switch (node.kind) {
    case 'scalar':
      return node.value;
    case 'seq':
      return node.items.map(plain);
    case 'map':
      return Object.fromEntries([...node.entries].map(([key, value]) => [key, plain(value)]));
    case 'reference':
      return null;
  }
}

/** Escapes `text` for a POSIX shell word, as Ruby's `Shellwords.escape` (GitLab's `posix_escape`). */
export function posixEscape(text: string): string {
  if (text === '') return "''";
  return text.replace(/[^A-Za-z0-9_\-.,:+/@\n]/g, '\\$&').replace(/\n/g, "'\n'");
}
