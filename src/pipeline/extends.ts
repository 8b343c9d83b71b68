import type { ProblemList } from './config-problem.js';
import { PIPELINE_LIMITS } from './limits.js';
import type { WorkBudget } from './work-budget.js';
import { deepMerge, describeNode, keyPosition, type MapNode, type TreeNode } from './yaml-tree.js';

/**
 * Extends pass: gives every job (hidden ones included) the result of its `extends` chain. Parents
 * merge in the order listed, each one already extended, then the job itself on top; mappings merge
 * deeply, lists and scalars are replaced (GitLab's rules). Missing parents, cycles and chains deeper
 * than {@link PIPELINE_LIMITS.maxExtendsDepth} are errors on `jobs.<name>.extends`.
 */
export function resolveExtends(
  jobs: ReadonlyMap<string, MapNode>,
  problems: ProblemList,
  budget: WorkBudget,
): Map<string, MapNode> {
  const charge = (amount: number): void => budget.charge(amount);
  const resolved = new Map<string, MapNode>();
  const failed = new Set<string>();

  const resolve = (name: string, chain: readonly string[]): MapNode | null => {
    const done = resolved.get(name);
    if (done !== undefined) return done;
    if (failed.has(name)) return null;
    const job = jobs.get(name)!;
    const extendsNode = job.entries.get('extends');
    if (extendsNode === undefined) {
      resolved.set(name, job);
      return job;
    }
    const where = `jobs.${name}.extends`;
    const at = keyPosition(job, 'extends');
    const parents = parentNames(extendsNode);
    if (parents === null) {
      problems.error(
        where,
        `must be a job name or a list of job names, not ${describeNode(extendsNode)}`,
        at,
      );
      failed.add(name);
      return null;
    }
    if (chain.length >= PIPELINE_LIMITS.maxExtendsDepth) {
      problems.error(
        where,
        `the extends chain ${[...chain, name].join(' → ')} is deeper than ${PIPELINE_LIMITS.maxExtendsDepth} levels`,
        at,
      );
      failed.add(name);
      return null;
    }
    let base: TreeNode | null = null;
    for (const parent of parents) {
      if (parent === name || chain.includes(parent)) {
        problems.error(
          where,
          `extends forms a cycle: ${[...chain, name, parent].join(' → ')}; remove one link`,
          at,
        );
        failed.add(name);
        return null;
      }
      if (!jobs.has(parent)) {
        problems.error(
          where,
          `"${parent}" is not defined; extends takes the name of a job or of a hidden job (one whose name starts with a dot)`,
          at,
        );
        failed.add(name);
        return null;
      }
      const parentJob = resolve(parent, [...chain, name]);
      if (parentJob === null) {
        failed.add(name);
        return null;
      }
      base = base === null ? parentJob : deepMerge(base, parentJob, charge);
    }
    const own = new Map(job.entries);
    own.delete('extends');
    const self: MapNode = { ...job, entries: own };
    const merged = base === null ? self : deepMerge(base, self, charge);
    const result = merged.kind === 'map' ? { ...merged, line: job.line, file: job.file } : self;
    resolved.set(name, result);
    return result;
  };

  for (const name of jobs.keys()) resolve(name, []);
  return resolved;
}

function parentNames(node: TreeNode): string[] | null {
  if (node.kind === 'scalar' && typeof node.value === 'string') return [node.value];
  if (node.kind !== 'seq') return null;
  const names: string[] = [];
  for (const item of node.items) {
    if (item.kind !== 'scalar' || typeof item.value !== 'string') return null;
    names.push(item.value);
  }
  return names;
}
