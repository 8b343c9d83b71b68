import type { ProblemList } from '../config-problem.js';
import { describeNode, keyPosition, type TreeNode } from '../yaml-tree.js';
import { checkKeys, readInteger } from './read-value.js';

/**
 * Reads `allow_failure`: `true`/`false`, or `{ exit_codes: 137 }` / `{ exit_codes: [137, 255] }`
 * (failure is allowed only for those exit codes; `allowFailure` is then `false`).
 */
export function readAllowFailure(
  node: TreeNode,
  path: string,
  problems: ProblemList,
): { allowFailure: boolean; exitCodes: number[] } | null {
  if (node.kind === 'scalar' && typeof node.value === 'boolean')
    return { allowFailure: node.value, exitCodes: [] };
  if (node.kind !== 'map') {
    problems.error(path, `must be true, false or { exit_codes: [...] }, not ${describeNode(node)}`, node);
    return null;
  }
  checkKeys(node, path, new Set(['exit_codes']), problems);
  const codes = node.entries.get('exit_codes');
  if (codes === undefined) {
    problems.error(path, 'write allow_failure: { exit_codes: [1, 2] }', node);
    return null;
  }
  const items = codes.kind === 'seq' ? codes.items : [codes];
  const exitCodes: number[] = [];
  items.forEach((item, index) => {
    const code = readInteger(
      item,
      codes.kind === 'seq' ? `${path}.exit_codes[${index}]` : `${path}.exit_codes`,
      problems,
      0,
      255,
    );
    if (code !== null) exitCodes.push(code);
  });
  if (items.length === 0)
    problems.error(`${path}.exit_codes`, 'must list at least one exit code', keyPosition(node, 'exit_codes'));
  return { allowFailure: false, exitCodes };
}
