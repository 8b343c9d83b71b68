import type { ProblemList, SourcePosition } from './config-problem.js';
import {
  type ComponentContext,
  interpolateInputs,
  readComponentFields,
  readInputDefinitions,
  resolveInputValues,
} from './inputs.js';
import { type ParseBudget, parseYaml } from './parse.js';
import { describeNode, type MapNode, type TreeNode } from './yaml-tree.js';

/** One configuration file read: its `spec:` header (when it has one) and its configuration. */
export interface ConfigFile {
  /** The header document (a mapping with `spec`), or `null` when the file has none. */
  readonly header: MapNode | null;
  /** The configuration document, `null` when nothing usable came out (the errors are recorded). */
  readonly body: TreeNode | null;
}

const DOCUMENT_START = /^---(?:[ \t]|$)/;

/**
 * Reads a configuration file that may start with a `spec:` header, as GitLab allows: the header is
 * its own YAML document, separated from the configuration by a `---` line. Each part is parsed on
 * its own with the lines of the whole file, so every message points at the right line. A file of
 * several documents whose first one is not a `spec:` header is refused with a message saying so.
 */
export function parseConfigFile(
  content: string,
  file: string,
  problems: ProblemList,
  budget: ParseBudget,
): ConfigFile {
  const split = splitAtSecondDocument(content);
  if (split === null) return { header: null, body: parseYaml(content, file, problems, budget) };
  const header = parseYaml(split.header, file, problems, budget);
  if (header === null) return { header: null, body: null };
  if (header.kind !== 'map' || !header.entries.has('spec') || header.entries.size !== 1) {
    problems.error(
      file,
      `the file holds more than one YAML document (a second one starts at line ${split.line}); only a spec: header may come before the --- line, so put the configuration in one document`,
      { line: split.line, file },
    );
    return { header: null, body: null };
  }
  const body = parseYaml(split.body, file, problems, budget);
  if (body !== null && body.kind === 'scalar' && body.value === null) {
    return { header, body: null };
  }
  return { header, body };
}

/**
 * Splits the text at the `---` line that starts a second document (a `---` before any content only
 * opens the first one). The body keeps its line numbers: the header's lines become empty lines.
 */
function splitAtSecondDocument(content: string): { header: string; body: string; line: number } | null {
  let sawContent = false;
  let offset = 0;
  let index = 0;
  while (offset <= content.length) {
    const end = content.indexOf('\n', offset);
    const line = content.slice(offset, end === -1 ? content.length : end);
    if (DOCUMENT_START.test(line)) {
      if (sawContent) {
        return {
          header: content.slice(0, offset),
          body: '\n'.repeat(index) + content.slice(offset),
          line: index + 1,
        };
      }
    } else if (line.trim() !== '' && !line.trimStart().startsWith('#') && line.trim() !== '...') {
      sawContent = true;
    }
    if (end === -1) break;
    offset = end + 1;
    index += 1;
  }
  return null;
}

/** The `spec` mapping of a header, or `null` (the problem recorded) when it is not a mapping. */
export function headerSpec(header: MapNode, problems: ProblemList): MapNode | null {
  const spec = header.entries.get('spec');
  if (spec === undefined) return null;
  if (spec.kind !== 'map') {
    problems.error('spec', `must be a mapping with inputs, not ${describeNode(spec)}`, spec);
    return null;
  }
  return spec;
}

/**
 * Applies a file's `spec:inputs` header to its configuration: checks the `given` inputs (from
 * `include:inputs`, `null` for none) against the declared ones, fills in defaults, and interpolates
 * every `$[[ inputs.… ]]` block (`expand_vars` sees `variables`), and the `$[[ component.… ]]`
 * blocks its `spec:component` declares with `component` (the file's component context, `null`
 * when it was not read with `include:component`). Errors about the given values go on `path`.
 */
export function applyHeader(
  header: MapNode,
  body: TreeNode,
  given: MapNode | null,
  path: string,
  at: SourcePosition | null,
  problems: ProblemList,
  variables: Readonly<Record<string, string>> = {},
  component: ComponentContext | null = null,
): TreeNode {
  const spec = headerSpec(header, problems);
  if (spec === null) return body;
  const definitions = readInputDefinitions(spec, problems);
  const fields = readComponentFields(spec, problems);
  const values = resolveInputValues(definitions, given, path, at, problems);
  return interpolateInputs(body, values, variables, problems, { fields, context: component });
}
