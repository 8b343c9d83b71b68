import { isTesseraError } from '../errors.js';
import type { ProblemList } from './config-problem.js';
import { expandVariables } from './expand-variables.js';
import type { IncludeState } from './include.js';
import {
  contextOf,
  type IncludeContext,
  type IncludeRead,
  IncludeSourceError,
  type ProjectSnapshot,
  sourcesIn,
} from './include-sources.js';
import { describeNode, keyPosition, type MapNode, type TreeNode } from './yaml-tree.js';

/** One file of an `include:project` entry (an entry with a list of files gives one per file). */
export interface ProjectTarget {
  readonly kind: 'project';
  /** The project's full path, variables expanded. */
  readonly project: string;
  /** Branch, tag or commit SHA; `null`: the project's default branch. */
  readonly ref: string | null;
  /** The path from the repository root, without a leading `/`. */
  readonly file: string;
}

/** Where an include entry is, for messages. */
export interface IncludeEntryPlace {
  readonly where: string;
  readonly at: TreeNode;
}

/**
 * Reads `project`, `ref` and `file` (a path or a list of them) of an `include:project` entry,
 * expanding variables in each as GitLab does. Reports every mistake; answers the files it could read.
 */
export function readProjectEntry(
  item: MapNode,
  where: string,
  problems: ProblemList,
  variables: Readonly<Record<string, string>>,
): ProjectTarget[] {
  const projectNode = item.entries.get('project') as TreeNode;
  const project = locationText(projectNode, `${where}.project`, problems, variables, 'a project path');
  if (project !== null && !/^[^/\s]+(\/[^/\s]+)+$/.test(project)) {
    problems.error(
      `${where}.project`,
      `"${project}" is not a project path: write the full path, group/project`,
      projectNode,
    );
  }
  const refNode = item.entries.get('ref');
  const ref =
    refNode === undefined
      ? null
      : locationText(refNode, `${where}.ref`, problems, variables, 'a branch, tag or commit SHA');
  const fileNode = item.entries.get('file');
  if (fileNode === undefined) {
    problems.error(
      `${where}.file`,
      'is required: name the file (or a list of files) to read from the project, e.g. file: ci/build.yml',
      keyPosition(item, 'project'),
    );
    return [];
  }
  const fileNodes = fileNode.kind === 'seq' ? fileNode.items : [fileNode];
  if (fileNodes.length === 0)
    problems.error(`${where}.file`, 'must name at least one file, e.g. file: ci/build.yml', fileNode);
  const files: string[] = [];
  fileNodes.forEach((node, index) => {
    const path = fileNode.kind === 'seq' ? `${where}.file[${index}]` : `${where}.file`;
    const raw = locationText(node, path, problems, variables, 'a file path');
    if (raw === null) return;
    // GitLab reads the path from the repository root, with or without a leading slash.
    const file = raw.trim().replace(/^\/+/, '');
    if (file === '' || file.includes('\0') || file.split('/').some((segment) => segment === '..'))
      problems.error(path, `"${raw}" is not a path in the project's repository`, node);
    else if (!/\.ya?ml$/i.test(file)) problems.error(path, `"${raw}" must be a .yml or .yaml file`, node);
    else files.push(file);
  });
  if (project === null || (refNode !== undefined && ref === null)) return [];
  if (!/^[^/\s]+(\/[^/\s]+)+$/.test(project)) return [];
  return files.map((file) => ({ kind: 'project', project, ref, file }));
}

/** A location value (project path, ref, file, component address) with variables expanded. */
export function locationText(
  node: TreeNode,
  path: string,
  problems: ProblemList,
  variables: Readonly<Record<string, string>>,
  what: string,
): string | null {
  if (node.kind !== 'scalar' || node.value === null || typeof node.value === 'boolean') {
    problems.error(path, `must be ${what}, not ${describeNode(node)}`, node);
    return null;
  }
  const expanded = expandVariables(String(node.value), variables, { unknown: 'keep' }).trim();
  if (expanded === '') {
    problems.error(path, `must be ${what}; it is empty`, node);
    return null;
  }
  return expanded;
}

/**
 * Reads one `include:project` file from the project's repository at the ref, with the access of
 * the pipeline's user; its own `include:local` entries then read that project at that commit.
 */
export async function readProjectInclude(
  target: ProjectTarget,
  place: IncludeEntryPlace,
  context: IncludeContext,
  state: IncludeState,
): Promise<IncludeRead | null> {
  const { where, at } = place;
  const refText = target.ref === null ? 'its default branch' : `ref "${target.ref}"`;
  const sources = sourcesIn(context, state.sources);
  if (sources === undefined) {
    state.problems.error(
      where,
      `cannot read "${target.file}" of project "${target.project}": include:project reads projects of a Tessera server (tessera ci lint --server URL --project PATH)`,
      at,
    );
    return null;
  }
  let snapshot: ProjectSnapshot;
  try {
    snapshot = await sources.openProject(target.project, target.ref);
  } catch (error) {
    state.problems.error(where, `cannot include "${target.file}": ${sourceFailure(error)}`, at);
    return null;
  }
  const at_ref = `at ${target.ref === null ? `its default branch (${snapshot.ref})` : refText}`;
  let content: string | undefined;
  try {
    content = snapshot.readLocalFile === undefined ? undefined : await snapshot.readLocalFile(target.file);
  } catch (error) {
    state.problems.error(
      where,
      `cannot read "${target.file}" of project "${target.project}" ${at_ref}: ${sourceFailure(error)}`,
      at,
    );
    return null;
  }
  if (content === undefined) {
    state.problems.error(
      where,
      `file "${target.file}" does not exist in project "${target.project}" ${at_ref}`,
      at,
    );
    return null;
  }
  if (content.trim() === '') {
    state.problems.error(
      where,
      `file "${target.file}" of project "${target.project}" ${at_ref} is empty`,
      at,
    );
    return null;
  }
  return {
    content,
    label: `${target.file} of ${target.project} at ${snapshot.ref}`,
    context: contextOf(snapshot, context),
    record: {
      type: 'file',
      location: target.file,
      source: { project: snapshot.project, sha: snapshot.sha, path: target.file },
      extra: { project: target.project, ref: snapshot.ref },
      contextProject: context.project ?? null,
      contextSha: context.sha ?? null,
    },
  };
}

/** The message of a source's failure: its own words, or git's (already free of credentials). */
export function sourceFailure(error: unknown): string {
  if (error instanceof IncludeSourceError) return error.message;
  if (isTesseraError(error)) return error.message;
  throw error;
}
