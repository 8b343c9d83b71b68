import {
  type Document,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  type Tags,
} from 'yaml';
import type { ProblemList } from './config-problem.js';
import { PIPELINE_LIMITS } from './limits.js';
import type { MapNode, TreeNode } from './yaml-tree.js';

/** Budget shared by every file of one load, so that includes cannot multiply the limits. */
export interface ParseBudget {
  expandedNodes: number;
  /** UTF-8 bytes of text (scalars and keys) that alias uses copied, counted without copying. */
  aliasBytes: number;
}

// `!reference [job, key]` is GitLab's own tag; declaring it keeps `yaml` from warning about it.
const customTags: Tags = [
  { tag: '!reference', collection: 'seq', default: false, resolve: (value: unknown) => value },
];

class BudgetExceeded extends Error {}

/** A converted node with what a walk over it costs: its nodes and its bytes of text, aliases expanded. */
interface Converted {
  readonly node: TreeNode;
  readonly size: number;
  readonly bytes: number;
}

/**
 * Parse pass: YAML text to a {@link TreeNode} with lines, aliases and merge keys (`<<`) expanded,
 * within {@link PIPELINE_LIMITS}. Syntax errors and exceeded bounds are recorded in `problems`
 * (path `file`); the answer is `null` when nothing usable came out.
 */
export function parseYaml(
  content: string,
  file: string,
  problems: ProblemList,
  budget: ParseBudget,
): TreeNode | null {
  if (Buffer.byteLength(content, 'utf8') > PIPELINE_LIMITS.maxFileBytes) {
    problems.error(
      file,
      `the file is larger than ${PIPELINE_LIMITS.maxFileBytes} bytes; split it with include:local`,
      null,
    );
    return null;
  }
  const lineCounter = new LineCounter();
  let document: Document.Parsed;
  try {
    document = parseDocument(content, {
      lineCounter,
      customTags,
      merge: true,
      // yaml's own duplicate-key check is quadratic in the size of a mapping; the converter
      // below finds duplicates with a Map instead.
      uniqueKeys: false,
      prettyErrors: false,
      strict: true,
    });
  } catch (error) {
    // The yaml package recurses on nesting; a deep enough file exhausts the stack.
    problems.error(file, `the YAML could not be read (${errorText(error)}); nest it less deeply`, null);
    return null;
  }
  const lineOf = (offset: number | undefined): number | null =>
    offset === undefined ? null : lineCounter.linePos(offset).line;
  for (const error of document.errors.slice(0, 20)) {
    // The yaml package reports its own stack exhaustion as a syntax error.
    const message = /call stack/i.test(error.message)
      ? `the YAML nests deeper than ${PIPELINE_LIMITS.maxDepth} levels; flatten it`
      : `YAML syntax: ${firstLine(error.message)}`;
    problems.error(file, message, { line: lineOf(error.pos[0]), file });
  }
  if (document.errors.length > 0) return null;
  for (const warning of document.warnings.slice(0, 20)) {
    problems.warn(file, `YAML: ${firstLine(warning.message)}`, { line: lineOf(warning.pos[0]), file });
  }
  const converter = new Converter(file, lineOf, problems, budget);
  try {
    return document.contents === null ? null : converter.convert(document.contents as Node, 0);
  } catch (error) {
    if (error instanceof BudgetExceeded) return null;
    if (error instanceof RangeError) {
      problems.error(file, 'the YAML nests too deeply to be read', null);
      return null;
    }
    throw error;
  }
}

class Converter {
  private aliases = 0;
  // Anchors seen so far in document order, already converted: an alias converts nothing again,
  // its expanded size is charged on every use. (yaml's Alias.resolve rescans the whole document
  // for every alias, which is quadratic.)
  private readonly anchors = new Map<string, Converted>();

  constructor(
    private readonly file: string,
    private readonly lineOf: (offset: number | undefined) => number | null,
    private readonly problems: ProblemList,
    private readonly budget: ParseBudget,
  ) {}

  convert(node: Node, depth: number): TreeNode {
    const result = this.convertCounted(node, depth);
    return result.node;
  }

  // A short anchored value aliased thousands of times stays within the node budget while its text
  // multiplies: a 127 KiB string aliased 1,500 times is 190 MB of job spec. The text an alias
  // would copy is known from its anchor, so it is charged here before anything is copied.
  private chargeAliasBytes(bytes: number, line: number | null): void {
    this.budget.aliasBytes += bytes;
    if (this.budget.aliasBytes > PIPELINE_LIMITS.maxAliasExpandedBytes) {
      this.problems.error(
        this.file,
        `the configuration's aliases expand to more than ${PIPELINE_LIMITS.maxAliasExpandedBytes} bytes of text (the limit on alias expansion); anchor shorter values or move long scripts into files`,
        { line, file: this.file },
      );
      throw new BudgetExceeded();
    }
  }

  private charge(size: number, line: number | null): void {
    this.budget.expandedNodes += size;
    if (this.budget.expandedNodes > PIPELINE_LIMITS.maxExpandedNodes) {
      this.problems.error(
        this.file,
        `the configuration expands to more than ${PIPELINE_LIMITS.maxExpandedNodes} YAML nodes (aliases included); simplify it`,
        { line, file: this.file },
      );
      throw new BudgetExceeded();
    }
  }

  private convertCounted(node: Node, depth: number): Converted {
    const line = this.lineOf(node.range?.[0]);
    if (depth > PIPELINE_LIMITS.maxDepth) {
      this.problems.error(
        this.file,
        `the YAML nests deeper than ${PIPELINE_LIMITS.maxDepth} levels; flatten it`,
        { line, file: this.file },
      );
      throw new BudgetExceeded();
    }
    if (isAlias(node)) {
      this.aliases += 1;
      if (this.aliases > PIPELINE_LIMITS.maxAliases) {
        this.problems.error(
          this.file,
          `the file uses more than ${PIPELINE_LIMITS.maxAliases} aliases; use extends instead`,
          { line, file: this.file },
        );
        throw new BudgetExceeded();
      }
      const target = this.anchors.get(node.source);
      if (target === undefined) {
        this.problems.error(
          this.file,
          `unknown alias *${node.source}; define &${node.source} before using it`,
          {
            line,
            file: this.file,
          },
        );
        return { node: { kind: 'scalar', value: null, line, file: this.file }, size: 1, bytes: 0 };
      }
      this.charge(target.size, line);
      this.chargeAliasBytes(target.bytes, line);
      return target;
    }
    const converted = this.convertNode(node, depth, line);
    // Registered after its content, so an alias inside its own anchor is an unknown alias, not a loop.
    const anchor = (node as { anchor?: string }).anchor;
    if (anchor !== undefined) this.anchors.set(anchor, converted);
    return converted;
  }

  private convertNode(node: Node, depth: number, line: number | null): Converted {
    this.charge(1, line);
    let size = 1;
    let bytes = 0;
    if (isScalar(node)) {
      const value = node.value;
      if (typeof value === 'string' && value.length > PIPELINE_LIMITS.maxStringLength) {
        this.problems.error(
          this.file,
          `a string is longer than ${PIPELINE_LIMITS.maxStringLength} characters`,
          { line, file: this.file },
        );
        return { node: { kind: 'scalar', value: '', line, file: this.file }, size, bytes };
      }
      if (value === null || typeof value === 'string' || typeof value === 'boolean') {
        bytes = typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : 5;
        return { node: { kind: 'scalar', value, line, file: this.file }, size, bytes };
      }
      if (typeof value === 'number') {
        return {
          bytes: 16,
          node: {
            kind: 'scalar',
            value: Number.isFinite(value) ? value : String(node.source ?? value),
            line,
            file: this.file,
          },
          size,
        };
      }
      // Dates, binary and other YAML 1.1 types are kept as the text that was written.
      const text = String(node.source ?? '');
      return {
        node: { kind: 'scalar', value: text, line, file: this.file },
        size,
        bytes: Buffer.byteLength(text, 'utf8'),
      };
    }
    if (isSeq(node)) {
      const items: TreeNode[] = [];
      for (const item of node.items) {
        const converted = this.convertCounted(item as Node, depth + 1);
        items.push(converted.node);
        size += converted.size;
        bytes += converted.bytes;
      }
      if (node.tag === '!reference') {
        const target = items.map((item) => (item.kind === 'scalar' ? String(item.value) : ''));
        if (target.length === 0 || items.some((item) => item.kind !== 'scalar')) {
          this.problems.error(
            this.file,
            '!reference takes a list of names, such as !reference [.setup, script]',
            { line, file: this.file },
          );
        }
        return { node: { kind: 'reference', target, line, file: this.file }, size, bytes };
      }
      return { node: { kind: 'seq', items, line, file: this.file }, size, bytes };
    }
    if (isMap(node)) {
      const entries = new Map<string, TreeNode>();
      const keyLines = new Map<string, number | null>();
      const merged: MapNode[] = [];
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const keyNode = pair.key as Node | null;
        const keyLine = this.lineOf(keyNode?.range?.[0]) ?? line;
        if (isScalar(keyNode) && typeof keyNode.value === 'symbol') {
          // A merge key: its mappings fill in keys this mapping does not set itself.
          const value = pair.value === null ? null : this.convertCounted(pair.value as Node, depth + 1);
          if (value === null) continue;
          size += value.size;
          bytes += value.bytes;
          const sources = value.node.kind === 'seq' ? value.node.items : [value.node];
          for (const source of sources) {
            if (source.kind === 'map') merged.push(source);
            else
              this.problems.error(this.file, 'a merge key (<<) takes a mapping or a list of mappings', {
                line: keyLine,
                file: this.file,
              });
          }
          continue;
        }
        if (
          !isScalar(keyNode) ||
          (typeof keyNode.value !== 'string' &&
            typeof keyNode.value !== 'number' &&
            typeof keyNode.value !== 'boolean')
        ) {
          this.problems.error(this.file, 'mapping keys must be plain strings', {
            line: keyLine,
            file: this.file,
          });
          continue;
        }
        const key = String(keyNode.value);
        if (entries.has(key)) {
          // Psych (GitLab) keeps the last value of a duplicated key; so do we, with a warning.
          this.problems.warn(this.file, `the key "${key}" appears twice in one mapping; the last one wins`, {
            line: keyLine,
            file: this.file,
          });
        }
        if (key.length > PIPELINE_LIMITS.maxKeyLength) {
          this.problems.error(this.file, `a key is longer than ${PIPELINE_LIMITS.maxKeyLength} characters`, {
            line: keyLine,
            file: this.file,
          });
          continue;
        }
        const value =
          pair.value === null || pair.value === undefined
            ? {
                node: { kind: 'scalar', value: null, line: keyLine, file: this.file } as TreeNode,
                size: 1,
                bytes: 0,
              }
            : this.convertCounted(pair.value as Node, depth + 1);
        size += value.size;
        bytes += value.bytes + key.length;
        entries.set(key, value.node);
        keyLines.set(key, keyLine);
      }
      // Earlier merge sources win over later ones; the mapping's own keys win over all.
      for (const source of merged) {
        for (const [key, value] of source.entries) {
          if (entries.has(key)) continue;
          entries.set(key, value);
          keyLines.set(key, source.keyLines.get(key) ?? source.line);
        }
      }
      return { node: { kind: 'map', entries, keyLines, line, file: this.file }, size, bytes };
    }
    this.problems.error(this.file, 'unsupported YAML node', { line, file: this.file });
    return { node: { kind: 'scalar', value: null, line, file: this.file }, size, bytes };
  }
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

function errorText(error: unknown): string {
  return error instanceof Error ? firstLine(error.message) : 'unknown failure';
}
