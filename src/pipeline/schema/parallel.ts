import type { ProblemList } from '../config-problem.js';
import { describeNode, keyPosition, type TreeNode } from '../yaml-tree.js';
import { readInteger } from './read-value.js';

/** GitLab's bound on `parallel: N` and on the jobs one `parallel:matrix` makes. */
export const MAX_PARALLEL_JOBS = 200;
/** GitLab's bound on a job name. */
const MAX_JOB_NAME_LENGTH = 255;

/** `parallel` as written: a number of copies, or the combinations of a matrix (values as text). */
export type ParallelSpec =
  | { readonly kind: 'count'; readonly total: number }
  | { readonly kind: 'matrix'; readonly combinations: readonly Readonly<Record<string, string>>[] };

/** One job `parallel` makes: its name, its matrix variables, and `CI_NODE_INDEX`/`CI_NODE_TOTAL`. */
export interface ParallelInstance {
  readonly name: string;
  readonly variables: Readonly<Record<string, string>>;
  readonly index: number;
  readonly total: number;
}

/** Reads `parallel: N` (1–200) or `parallel: { matrix: [...] }`. */
export function readParallel(node: TreeNode, path: string, problems: ProblemList): ParallelSpec | null {
  if (node.kind === 'scalar') {
    const total = readInteger(node, path, problems, 1, MAX_PARALLEL_JOBS);
    return total === null ? null : { kind: 'count', total };
  }
  if (node.kind !== 'map') {
    problems.error(path, `must be a number of jobs or { matrix: [...] }, not ${describeNode(node)}`, node);
    return null;
  }
  for (const key of node.entries.keys()) {
    if (key !== 'matrix')
      problems.error(
        `${path}.${key}`,
        `unknown parallel keyword "${key}"; write parallel: { matrix: [...] }`,
        keyPosition(node, key),
      );
  }
  const matrix = node.entries.get('matrix');
  if (matrix === undefined) {
    problems.error(`${path}.matrix`, 'is required: write parallel: { matrix: [{ NAME: [a, b] }] }', node);
    return null;
  }
  const combinations = readMatrix(matrix, `${path}.matrix`, problems);
  return combinations === null ? null : { kind: 'matrix', combinations };
}

/**
 * Reads a `matrix` list into its combinations, in GitLab's order: entry by entry, and within an
 * entry the product of its variables' values with the first variable varying slowest.
 */
export function readMatrix(
  node: TreeNode,
  path: string,
  problems: ProblemList,
): Record<string, string>[] | null {
  if (node.kind !== 'seq' || node.items.length === 0) {
    problems.error(
      path,
      `must be a non-empty list of { VARIABLE: value or [values] }, not ${describeNode(node)}`,
      node,
    );
    return null;
  }
  const combinations: Record<string, string>[] = [];
  let ok = true;
  node.items.forEach((entry, index) => {
    const where = `${path}[${index}]`;
    if (entry.kind !== 'map' || entry.entries.size === 0) {
      problems.error(
        where,
        `must be a mapping of VARIABLE: value or [values], not ${describeNode(entry)}`,
        entry,
      );
      ok = false;
      return;
    }
    let product: Record<string, string>[] = [{}];
    for (const [name, value] of entry.entries) {
      const values = matrixValues(value, `${where}.${name}`, problems);
      if (!/^[A-Za-z0-9_]+$/.test(name)) {
        problems.error(
          `${where}.${name}`,
          'variable names may contain only letters, digits and _',
          keyPosition(entry, name),
        );
        ok = false;
      }
      if (values === null) {
        ok = false;
        continue;
      }
      const next: Record<string, string>[] = [];
      for (const partial of product) {
        for (const text of values) next.push({ ...partial, [name]: text });
        if (next.length + combinations.length > MAX_PARALLEL_JOBS) break;
      }
      product = next;
      if (product.length + combinations.length > MAX_PARALLEL_JOBS) break;
    }
    combinations.push(...product);
  });
  if (combinations.length > MAX_PARALLEL_JOBS) {
    problems.error(
      path,
      `makes more than ${MAX_PARALLEL_JOBS} jobs; GitLab's limit for one matrix is ${MAX_PARALLEL_JOBS}`,
      node,
    );
    return null;
  }
  return ok ? combinations : null;
}

function matrixValues(node: TreeNode, path: string, problems: ProblemList): string[] | null {
  const text = (item: TreeNode): string | null =>
    item.kind === 'scalar' && (typeof item.value === 'string' || typeof item.value === 'number')
      ? String(item.value)
      : null;
  if (node.kind === 'seq') {
    const values = node.items.map(text);
    if (values.length > 0 && values.every((value) => value !== null)) return values as string[];
  } else {
    const value = text(node);
    if (value !== null) return [value];
  }
  problems.error(
    path,
    `must be a string, a number or a non-empty list of them, not ${describeNode(node)}`,
    node,
  );
  return null;
}

/** The name GitLab gives the job of one matrix combination: `test: [amd64, 20]`. */
export function matrixJobName(name: string, combination: Readonly<Record<string, string>>): string {
  return `${name}: [${Object.values(combination).join(', ')}]`;
}

/**
 * The jobs `parallel` makes of the job `name`, as GitLab names them: `test 1/3` … `test 3/3`, or
 * one per matrix combination. An instance name longer than GitLab's 255 characters is an error.
 */
export function parallelInstances(
  name: string,
  parallel: ParallelSpec,
  path: string,
  at: TreeNode | { line: number | null },
  problems: ProblemList,
): ParallelInstance[] {
  const instances: ParallelInstance[] =
    parallel.kind === 'count'
      ? Array.from({ length: parallel.total }, (_, position) => ({
          name: `${name} ${position + 1}/${parallel.total}`,
          variables: {},
          index: position + 1,
          total: parallel.total,
        }))
      : parallel.combinations.map((combination, position) => ({
          name: matrixJobName(name, combination),
          variables: combination,
          index: position + 1,
          total: parallel.combinations.length,
        }));
  const long = instances.find((instance) => instance.name.length > MAX_JOB_NAME_LENGTH);
  if (long !== undefined) {
    problems.error(
      path,
      `makes the job name "${long.name.slice(0, 60)}…" longer than ${MAX_JOB_NAME_LENGTH} characters; shorten the values`,
      at,
    );
    return [];
  }
  const names = new Set<string>();
  for (const instance of instances) {
    if (names.has(instance.name)) {
      problems.error(path, `makes the job "${instance.name}" twice; each combination must differ`, at);
      return [];
    }
    names.add(instance.name);
  }
  return instances;
}
