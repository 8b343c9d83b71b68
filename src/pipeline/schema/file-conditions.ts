import type { ProblemList } from '../config-problem.js';
import { compileGlob } from '../glob.js';
import type { ChangesSpec, ExistsSpec } from '../spec.js';
import { describeNode, keyPosition, type TreeNode } from '../yaml-tree.js';
import { checkKeys, readString, readStringList } from './read-value.js';

/** GitLab's bound on the paths of one `changes` or `exists`. */
const MAX_PATHS = 50;

/**
 * Reads `changes` of a rule or of `only`/`except`: a list of globs, or `{ paths, compare_to }`.
 * Globs without variables are compiled here so that a broken one is an error of the file.
 */
export function readChanges(node: TreeNode, path: string, problems: ProblemList): ChangesSpec | null {
  if (node.kind === 'map') {
    checkKeys(node, path, new Set(['paths', 'compare_to']), problems);
    const pathsNode = node.entries.get('paths');
    if (pathsNode === undefined) {
      problems.error(`${path}.paths`, 'is required: write changes: { paths: [src/**/*] }', node);
      return null;
    }
    const paths = readGlobs(pathsNode, `${path}.paths`, problems);
    const compareNode = node.entries.get('compare_to');
    const compareTo =
      compareNode === undefined ? null : readString(compareNode, `${path}.compare_to`, problems, 'a ref');
    if (compareTo !== null && compareTo.trim() === '') {
      problems.error(`${path}.compare_to`, 'must name a branch, a tag or a commit', compareNode);
      return null;
    }
    return paths === null ? null : { paths, compareTo };
  }
  const paths = readGlobs(node, path, problems);
  return paths === null ? null : { paths, compareTo: null };
}

/**
 * Reads `rules:exists`: a list of globs, or `{ paths, project, ref }` (GitLab 17.0): `paths` is
 * required, `project` names another project by its full path and `ref` (which needs `project`) a
 * branch, tag or commit of it.
 */
export function readExists(node: TreeNode, path: string, problems: ProblemList): ExistsSpec | null {
  if (node.kind === 'map') {
    checkKeys(node, path, new Set(['paths', 'project', 'ref']), problems);
    const pathsNode = node.entries.get('paths');
    if (pathsNode === undefined) {
      problems.error(
        `${path}.paths`,
        'is required: write exists: { paths: [Dockerfile] }',
        keyPosition(node, 'paths'),
      );
      return null;
    }
    const paths = readGlobs(pathsNode, `${path}.paths`, problems);
    const projectNode = node.entries.get('project');
    const refNode = node.entries.get('ref');
    const project =
      projectNode === undefined
        ? null
        : readName(projectNode, `${path}.project`, problems, 'a full project path such as acme/templates');
    const ref =
      refNode === undefined
        ? null
        : readName(refNode, `${path}.ref`, problems, 'a branch, a tag or a commit SHA');
    if (refNode !== undefined && projectNode === undefined) {
      problems.error(
        `${path}.ref`,
        'goes with exists:project only: name the project whose ref to look in (project: acme/templates)',
        keyPosition(node, 'ref'),
      );
      return null;
    }
    if (
      paths === null ||
      (projectNode !== undefined && project === null) ||
      (refNode !== undefined && ref === null)
    )
      return null;
    if (project === null) return { paths };
    const at = keyPosition(node, 'project');
    return { paths, project, ref, at: { path: `${path}.project`, ...at } };
  }
  const paths = readGlobs(node, path, problems);
  return paths === null ? null : { paths };
}

/** A non-empty string (`project` or `ref` of `exists`); `null` after recording why not. */
function readName(node: TreeNode, path: string, problems: ProblemList, what: string): string | null {
  const text = readString(node, path, problems, what);
  if (text === null) return null;
  if (text.trim() === '') {
    problems.error(path, `must be ${what}; it is empty`, node);
    return null;
  }
  return text;
}

function readGlobs(node: TreeNode, path: string, problems: ProblemList): string[] | null {
  if (node.kind !== 'seq' && !(node.kind === 'scalar' && typeof node.value === 'string')) {
    problems.error(
      path,
      `must be a list of paths or globs such as src/**/*.ts, not ${describeNode(node)}`,
      node,
    );
    return null;
  }
  const globs = readStringList(node, path, problems, { allowSingle: true });
  if (globs === null) return null;
  if (globs.length > MAX_PATHS) {
    problems.error(path, `may list at most ${MAX_PATHS} paths, not ${globs.length}`, node);
    return null;
  }
  let ok = true;
  for (const glob of globs) {
    if (glob.includes('$')) continue;
    const compiled = compileGlob(glob);
    if ('error' in compiled) {
      problems.error(path, compiled.error, node);
      ok = false;
    }
  }
  return ok ? globs : null;
}
