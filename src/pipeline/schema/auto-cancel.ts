import type { ProblemList } from '../config-problem.js';
import type { AutoCancelSpec } from '../spec.js';
import { describeNode, type TreeNode } from '../yaml-tree.js';
import { checkKeys, readString } from './read-value.js';

const ON_NEW_COMMIT = ['conservative', 'interruptible', 'none'] as const;
const ON_JOB_FAILURE = ['none', 'all'] as const;

/**
 * Reads `auto_cancel: { on_new_commit, on_job_failure }` (of `workflow`, or of a workflow rule):
 * only what is written, so that a rule replaces just the parts it names. Answers `undefined` when
 * the node is not a mapping (the problem is recorded).
 */
export function readAutoCancel(
  node: TreeNode,
  path: string,
  problems: ProblemList,
): Partial<AutoCancelSpec> | undefined {
  if (node.kind !== 'map') {
    problems.error(path, `must be { on_new_commit, on_job_failure }, not ${describeNode(node)}`, node);
    return undefined;
  }
  checkKeys(node, path, new Set(['on_new_commit', 'on_job_failure']), problems);
  const choice = <T extends string>(key: string, allowed: readonly T[]): T | undefined => {
    const value = node.entries.get(key);
    if (value === undefined) return undefined;
    const text = readString(value, `${path}.${key}`, problems);
    const found = allowed.find((candidate) => candidate === text);
    if (found === undefined && text !== null)
      problems.error(`${path}.${key}`, `must be one of ${allowed.join(', ')}, not "${text}"`, value);
    return found;
  };
  const onNewCommit = choice('on_new_commit', ON_NEW_COMMIT);
  const onJobFailure = choice('on_job_failure', ON_JOB_FAILURE);
  return {
    ...(onNewCommit === undefined ? {} : { onNewCommit }),
    ...(onJobFailure === undefined ? {} : { onJobFailure }),
  };
}

/** GitLab's `workflow:auto_cancel` when nothing is written. */
export const DEFAULT_AUTO_CANCEL: AutoCancelSpec = { onNewCommit: 'conservative', onJobFailure: 'none' };
