import type { ProblemList } from '../config-problem.js';
import { compilePattern, splitPatternLiteral } from '../expression/compile-pattern.js';
import type { TreeNode } from '../yaml-tree.js';
import { readString } from './read-value.js';

/**
 * Reads `coverage:`, a regular expression between slashes (`/Total: \d+\.\d+%/`), compiled for RE2
 * here so that a broken one is an error of the file. Answers the pattern as written.
 */
export function readCoverage(node: TreeNode, path: string, problems: ProblemList): string | null {
  const text = readString(node, path, problems, 'a regular expression such as /Total: \\d+\\.\\d+%/');
  if (text === null) return null;
  const literal = splitPatternLiteral(text);
  if (literal === null) {
    problems.error(
      path,
      `must be a regular expression between slashes, such as /Total: \\d+%/, not "${text}"`,
      node,
    );
    return null;
  }
  const compiled = compilePattern(literal.source, literal.flags);
  if ('error' in compiled) {
    problems.error(path, compiled.error, node);
    return null;
  }
  return text;
}
