import type { ProblemList } from '../config-problem.js';
import type { HooksSpec } from '../spec.js';
import { describeNode, keyPosition, type TreeNode } from '../yaml-tree.js';
import { readScript } from './read-value.js';

/** The hooks GitLab's `hooks:` keyword takes (GitLab's `Ci::Config::Entry::Hooks`). */
const HOOK_NAMES = ['pre_get_sources_script'];

/**
 * Reads `hooks:` (of a job or of `default`): `{ pre_get_sources_script: <commands> }`, commands
 * being a string or a list of strings, nested lists flattened as `script`'s are. Any other hook
 * name is refused by name. Answers `null` when the keyword has errors.
 *
 * @example readHooks(node, 'jobs.build.hooks', problems) // { preGetSourcesScript: ['git config …'] }
 */
export function readHooks(node: TreeNode, path: string, problems: ProblemList): HooksSpec | null {
  if (node.kind !== 'map') {
    problems.error(path, `must be { pre_get_sources_script: [commands] }, not ${describeNode(node)}`, node);
    return null;
  }
  let ok = true;
  for (const name of node.entries.keys()) {
    if (HOOK_NAMES.includes(name)) continue;
    problems.error(
      `${path}.${name}`,
      `"${name}" is not a hook; the hooks are ${HOOK_NAMES.join(', ')}`,
      keyPosition(node, name),
    );
    ok = false;
  }
  const scriptNode = node.entries.get('pre_get_sources_script');
  const script =
    scriptNode === undefined ? [] : readScript(scriptNode, `${path}.pre_get_sources_script`, problems);
  if (script === null || !ok) return null;
  return { preGetSourcesScript: script };
}
