import type { ProblemList } from '../config-problem.js';
import { describeNode, type TreeNode } from '../yaml-tree.js';
import { checkKeys, readBoolean, readString } from './read-value.js';

/** `trigger:` of a bridge job: a child pipeline of this commit or a pipeline of another project. */
export interface TriggerSpec {
  /** Child pipeline: the local files (of the same commit) its configuration includes; else null. */
  readonly include: readonly string[] | null;
  /** Multi-project pipeline: the downstream project's full path; else null. */
  readonly project: string | null;
  /** Multi-project pipeline: the branch to run (the project's default branch when null). */
  readonly branch: string | null;
  /** `depend`: the bridge ends as the downstream pipeline ends; null: it succeeds once it is created. */
  readonly strategy: 'depend' | null;
  /** `forward:` with GitLab's defaults (YAML variables yes, pipeline variables no). */
  readonly forward: { readonly yamlVariables: boolean; readonly pipelineVariables: boolean };
  /**
   * Child pipeline: the `inputs:` of each `include` entry, in the order of `include` (`null` for an
   * entry without); absent when no entry has any (and in specs stored before inputs existed).
   */
  readonly includeInputs?: readonly (Readonly<Record<string, unknown>> | null)[];
  /** Multi-project pipeline: `trigger:inputs` for the downstream configuration's `spec:inputs`. */
  readonly inputs?: Readonly<Record<string, unknown>>;
}

/** GitLab's limit on the configuration files of one child pipeline. */
export const MAX_TRIGGER_INCLUDES = 3;

/** The keywords a trigger job may have besides `trigger` (GitLab's bridge job keywords). */
export const BRIDGE_JOB_KEYS = new Set([
  'trigger',
  'stage',
  'rules',
  'only',
  'except',
  'variables',
  'inherit',
  'allow_failure',
  'when',
  'needs',
  'resource_group',
  'environment',
]);

const DEFAULT_FORWARD = { yamlVariables: true, pipelineVariables: false } as const;

/**
 * Reads `trigger:`: a project path (`trigger: group/project`), `{ project, branch, strategy,
 * forward }`, or `{ include, strategy, forward }` whose include is a local path, a list of them,
 * or `{ local }` entries.
 */
export function readTrigger(node: TreeNode, path: string, problems: ProblemList): TriggerSpec | null {
  if (node.kind === 'scalar') {
    const project = readString(node, path, problems, 'a project path or { include: ci/child.yml }');
    if (project === null) return null;
    return { include: null, project, branch: null, strategy: null, forward: DEFAULT_FORWARD };
  }
  if (node.kind !== 'map') {
    problems.error(
      path,
      `must be { include: ci/child.yml } (a child pipeline) or { project: group/project } (a pipeline of another project), not ${describeNode(node)}`,
      node,
    );
    return null;
  }
  checkKeys(node, path, new Set(['include', 'project', 'branch', 'strategy', 'forward', 'inputs']), problems);
  const includeNode = node.entries.get('include');
  const projectNode = node.entries.get('project');
  if (includeNode !== undefined && projectNode !== undefined) {
    problems.error(
      path,
      'names both include (a child pipeline) and project (a pipeline of another project): keep one',
      node,
    );
    return null;
  }
  if (includeNode === undefined && projectNode === undefined) {
    problems.error(path, 'needs include (a child pipeline) or project (a pipeline of another project)', node);
    return null;
  }
  const branchNode = node.entries.get('branch');
  if (branchNode !== undefined && includeNode !== undefined)
    problems.error(
      `${path}.branch`,
      'goes with trigger:project only: a child pipeline runs the same commit',
      branchNode,
    );
  const inputsNode = node.entries.get('inputs');
  if (inputsNode !== undefined && includeNode !== undefined)
    problems.error(
      `${path}.inputs`,
      'goes with trigger:project only; give a child pipeline its inputs per file: include: [{ local: ci/child.yml, inputs: { … } }]',
      inputsNode,
    );
  const inputs =
    inputsNode === undefined || includeNode !== undefined
      ? undefined
      : readInputValues(inputsNode, `${path}.inputs`, problems);
  const includeInputs: (Record<string, unknown> | null)[] = [];
  const include =
    includeNode === undefined
      ? null
      : readTriggerInclude(includeNode, `${path}.include`, problems, includeInputs);
  const project = projectNode === undefined ? null : readString(projectNode, `${path}.project`, problems);
  // A path with $VARIABLES is checked once they are expanded, when the bridge runs.
  if (project !== null && !project.includes('$') && !/^[^/\s]+(\/[^/\s]+)+$/.test(project))
    problems.error(`${path}.project`, `"${project}" is not a project path: write group/project`, projectNode);
  const branch =
    branchNode === undefined || includeNode !== undefined
      ? null
      : readString(branchNode, `${path}.branch`, problems);
  const strategyNode = node.entries.get('strategy');
  let strategy: 'depend' | null = null;
  if (strategyNode !== undefined) {
    const value = readString(strategyNode, `${path}.strategy`, problems);
    if (value === 'depend') strategy = 'depend';
    else if (value !== null)
      problems.error(
        `${path}.strategy`,
        `must be depend (the bridge ends as the downstream pipeline ends), not "${value}"`,
        strategyNode,
      );
  }
  const forwardNode = node.entries.get('forward');
  const forward =
    forwardNode === undefined ? DEFAULT_FORWARD : readForward(forwardNode, `${path}.forward`, problems);
  if ((include === null && project === null) || forward === null || inputs === null) return null;
  return {
    include,
    project,
    branch,
    strategy,
    forward,
    ...(includeInputs.some((entry) => entry !== null) ? { includeInputs } : {}),
    ...(inputs === undefined ? {} : { inputs }),
  };
}

/** `inputs:` of a trigger as plain values (checked against the downstream `spec:inputs` when it is read). */
function readInputValues(
  node: TreeNode,
  path: string,
  problems: ProblemList,
): Record<string, unknown> | null {
  if (node.kind !== 'map') {
    problems.error(path, `must be a mapping of input names and values, not ${describeNode(node)}`, node);
    return null;
  }
  const plain = (value: TreeNode): unknown => {
    switch (value.kind) {
      case 'scalar':
        return value.value;
      case 'seq':
        return value.items.map(plain);
      case 'map':
        return Object.fromEntries([...value.entries].map(([key, item]) => [key, plain(item)]));
      case 'reference':
        return null;
    }
  };
  // fromEntries defines own properties, so an input named __proto__ stays an ordinary entry.
  return Object.fromEntries([...node.entries].map(([name, value]) => [name, plain(value)]));
}

function readForward(node: TreeNode, path: string, problems: ProblemList): TriggerSpec['forward'] | null {
  if (node.kind !== 'map') {
    problems.error(
      path,
      `must be { yaml_variables: true, pipeline_variables: false }, not ${describeNode(node)}`,
      node,
    );
    return null;
  }
  checkKeys(node, path, new Set(['yaml_variables', 'pipeline_variables']), problems);
  const read = (key: string, fallback: boolean): boolean => {
    const value = node.entries.get(key);
    return value === undefined ? fallback : (readBoolean(value, `${path}.${key}`, problems) ?? fallback);
  };
  return {
    yamlVariables: read('yaml_variables', DEFAULT_FORWARD.yamlVariables),
    pipelineVariables: read('pipeline_variables', DEFAULT_FORWARD.pipelineVariables),
  };
}

/**
 * `trigger:include`: a local path, `{ local, inputs }`, or a list of either (at most three); each
 * entry's inputs go to `inputs`, in order.
 */
function readTriggerInclude(
  node: TreeNode,
  path: string,
  problems: ProblemList,
  inputs: (Record<string, unknown> | null)[],
): string[] | null {
  const items = node.kind === 'seq' ? node.items : [node];
  if (items.length === 0) {
    problems.error(path, 'must name at least one file: write include: ci/child.yml', node);
    return null;
  }
  if (items.length > MAX_TRIGGER_INCLUDES) {
    problems.error(
      path,
      `a child pipeline is made of at most ${MAX_TRIGGER_INCLUDES} files, not ${items.length}`,
      node,
    );
    return null;
  }
  const files: string[] = [];
  items.forEach((item, index) => {
    const where = node.kind === 'seq' ? `${path}[${index}]` : path;
    let fileNode: TreeNode | undefined = item;
    if (item.kind !== 'map') inputs.push(null);
    if (item.kind === 'map') {
      const unsupported = ['project', 'artifact', 'template', 'component', 'remote'].find((key) =>
        item.entries.has(key),
      );
      if (unsupported !== undefined) {
        problems.error(
          `${where}.${unsupported}`,
          `a child pipeline from include:${unsupported} is not supported yet; Tessera reads child pipelines from local files of the same commit (include: ci/child.yml)`,
          item,
        );
        return;
      }
      checkKeys(item, where, new Set(['local', 'inputs']), problems);
      const inputsNode = item.entries.get('inputs');
      const values =
        inputsNode === undefined ? null : readInputValues(inputsNode, `${where}.inputs`, problems);
      if (inputsNode !== undefined && values === null) return;
      inputs.push(values);
      fileNode = item.entries.get('local');
      if (fileNode === undefined) {
        problems.error(`${where}.local`, 'is required: write { local: ci/child.yml }', item);
        return;
      }
    }
    const file = readString(fileNode, where, problems, 'the path of a file of this repository');
    if (file === null) return;
    if (!/\.ya?ml$/.test(file)) {
      problems.error(
        where,
        `"${file}" is not a YAML file: a child pipeline's file ends in .yml or .yaml`,
        fileNode,
      );
      return;
    }
    files.push(file.replace(/^\/+/, ''));
  });
  return files.length === items.length ? files : null;
}
