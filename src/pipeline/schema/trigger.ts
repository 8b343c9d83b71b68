import type { ProblemList } from '../config-problem.js';
import { parseIntegrity, readRemoteEntry } from '../include-remote.js';
import { describeNode, type MapNode, type TreeNode } from '../yaml-tree.js';
import { checkKeys, readBoolean, readString } from './read-value.js';

/**
 * One file of a child pipeline's configuration: a path of this commit (a string, also what older
 * stored jobs hold), files of another project of this instance, a file of an earlier job's
 * artifacts (a dynamic child pipeline), or a component.
 */
export type TriggerInclude =
  | string
  | ((
      | { readonly local: string }
      | { readonly project: string; readonly ref: string | null; readonly file: readonly string[] }
      | { readonly artifact: string; readonly job: string }
      | { readonly component: string }
      | {
          /** The URL as written (`$VARIABLES` are expanded when the child's configuration is read). */
          readonly remote: string;
          /** `integrity:` as written, `sha256-<base64>`; absent when not given. */
          readonly integrity?: string;
        }
    ) & {
      /** `inputs:` for the file's `spec:inputs` (absent when none are given). */
      readonly inputs?: Readonly<Record<string, unknown>>;
    });

/** `trigger:` of a bridge job: a child pipeline of this commit or a pipeline of another project. */
export interface TriggerSpec {
  /** Child pipeline: the files its configuration includes; else null. */
  readonly include: readonly TriggerInclude[] | null;
  /** Multi-project pipeline: the downstream project's full path; else null. */
  readonly project: string | null;
  /** Multi-project pipeline: the branch to run (the project's default branch when null). */
  readonly branch: string | null;
  /** `depend`: the bridge ends as the downstream pipeline ends; null: it succeeds once it is created. */
  readonly strategy: 'depend' | null;
  /** `forward:` with GitLab's defaults (YAML variables yes, pipeline variables no). */
  readonly forward: { readonly yamlVariables: boolean; readonly pipelineVariables: boolean };
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
  'parallel',
]);

const DEFAULT_FORWARD = { yamlVariables: true, pipelineVariables: false } as const;

/**
 * Reads `trigger:`: a project path (`trigger: group/project`), `{ project, branch, strategy,
 * forward }`, or `{ include, strategy, forward }` whose include is a local path or a list of
 * local paths and `{ local }`, `{ project, ref, file }`, `{ artifact, job }`, `{ component }`,
 * `{ remote, integrity }` entries.
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
  const include =
    includeNode === undefined ? null : readTriggerInclude(includeNode, `${path}.include`, problems);
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
  return { include, project, branch, strategy, forward, ...(inputs === undefined ? {} : { inputs }) };
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
  const inputs = plainValue(node, path, problems);
  return inputs === undefined ? null : (inputs as Record<string, unknown>);
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
 * `trigger:include`: at most three of a local path, `{ local }`, `{ project, ref, file }`,
 * `{ artifact, job }`, `{ component }` or `{ remote, integrity }`.
 */
function readTriggerInclude(node: TreeNode, path: string, problems: ProblemList): TriggerInclude[] | null {
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
  const files: TriggerInclude[] = [];
  items.forEach((item, index) => {
    const where = node.kind === 'seq' ? `${path}[${index}]` : path;
    const file =
      item.kind === 'map'
        ? readTriggerIncludeEntry(item, where, problems)
        : readYamlPath(item, where, problems);
    if (file !== null) files.push(file);
  });
  return files.length === items.length ? files : null;
}

function readYamlPath(node: TreeNode, where: string, problems: ProblemList): string | null {
  const file = readString(node, where, problems, 'the path of a file of this repository');
  if (file === null) return null;
  if (!/\.ya?ml$/.test(file)) {
    problems.error(
      where,
      `"${file}" is not a YAML file: a child pipeline's file ends in .yml or .yaml`,
      node,
    );
    return null;
  }
  return file.replace(/^\/+/, '');
}

function readTriggerIncludeEntry(item: MapNode, where: string, problems: ProblemList): TriggerInclude | null {
  if (item.entries.has('template')) {
    problems.error(
      `${where}.template`,
      "GitLab's templates are not shipped with Tessera: copy the template into this repository and use include: ci/child.yml",
      item,
    );
    return null;
  }
  if (item.entries.has('remote')) return readTriggerRemote(item, where, problems);
  if (item.entries.has('project')) {
    checkKeys(item, where, new Set(['project', 'ref', 'file', 'inputs']), problems);
    const project = readString(item.entries.get('project') as TreeNode, `${where}.project`, problems);
    const refNode = item.entries.get('ref');
    const ref = refNode === undefined ? null : readString(refNode, `${where}.ref`, problems);
    const fileNode = item.entries.get('file');
    if (fileNode === undefined) {
      problems.error(
        `${where}.file`,
        'is required with project: name the file, e.g. file: ci/child.yml',
        item,
      );
      return null;
    }
    const fileNodes = fileNode.kind === 'seq' ? fileNode.items : [fileNode];
    const file = fileNodes.map((one, index) =>
      readYamlPath(one, fileNode.kind === 'seq' ? `${where}.file[${index}]` : `${where}.file`, problems),
    );
    if (project === null || (refNode !== undefined && ref === null) || file.some((one) => one === null))
      return null;
    if (fileNodes.length === 0) {
      problems.error(`${where}.file`, 'must name at least one file, e.g. file: ci/child.yml', fileNode);
      return null;
    }
    return withInputs({ project, ref, file: file as string[] }, item, where, problems);
  }
  if (item.entries.has('artifact')) {
    checkKeys(item, where, new Set(['artifact', 'job', 'inputs']), problems);
    const artifact = readYamlPath(item.entries.get('artifact') as TreeNode, `${where}.artifact`, problems);
    const jobNode = item.entries.get('job');
    if (jobNode === undefined) {
      problems.error(
        `${where}.job`,
        'is required with artifact: name the job of this pipeline whose artifacts hold the file',
        item,
      );
      return null;
    }
    const job = readString(jobNode, `${where}.job`, problems);
    return artifact === null || job === null ? null : withInputs({ artifact, job }, item, where, problems);
  }
  if (item.entries.has('component')) {
    checkKeys(item, where, new Set(['component', 'inputs']), problems);
    const component = readString(item.entries.get('component') as TreeNode, `${where}.component`, problems);
    return component === null ? null : withInputs({ component }, item, where, problems);
  }
  checkKeys(item, where, new Set(['local', 'inputs']), problems);
  const local = item.entries.get('local');
  if (local === undefined) {
    problems.error(
      `${where}.local`,
      'is required: write { local: ci/child.yml }, { project, file }, { artifact, job }, { component } or { remote }',
      item,
    );
    return null;
  }
  const path = readYamlPath(local, where, problems);
  if (path === null) return null;
  return item.entries.has('inputs') ? withInputs({ local: path }, item, where, problems) : path;
}

/**
 * `{ remote: URL, integrity, inputs }`: a child pipeline from a file fetched as `include:remote`
 * is (the same allow-list, limits and `integrity:` check, when the bridge runs). A URL without
 * `$VARIABLES` is checked now; one with them once they are expanded.
 */
function readTriggerRemote(item: MapNode, where: string, problems: ProblemList): TriggerInclude | null {
  checkKeys(item, where, new Set(['remote', 'integrity', 'inputs']), problems);
  const remoteNode = item.entries.get('remote') as TreeNode;
  const remote = readString(remoteNode, `${where}.remote`, problems, 'a URL');
  if (remote === null) return null;
  const integrityNode = item.entries.get('integrity');
  let integrity: string | undefined;
  if (integrityNode !== undefined) {
    const value = integrityNode.kind === 'scalar' ? integrityNode.value : null;
    const read = parseIntegrity(value);
    if ('error' in read) {
      problems.error(`${where}.integrity`, read.error, integrityNode);
      return null;
    }
    integrity = String(value).trim();
  }
  if (!remote.includes('$') && readRemoteEntry(item, where, problems, {}) === null) return null;
  return withInputs(
    { remote: remote.trim(), ...(integrity === undefined ? {} : { integrity }) },
    item,
    where,
    problems,
  );
}

/** The entry with the `inputs:` of `item` as plain values, checked later against the file's `spec:inputs`. */
function withInputs<T extends object>(
  entry: T,
  item: MapNode,
  where: string,
  problems: ProblemList,
): (T & { inputs?: Readonly<Record<string, unknown>> }) | null {
  const node = item.entries.get('inputs');
  if (node === undefined) return entry;
  const inputs = readInputValues(node, `${where}.inputs`, problems);
  return inputs === null ? null : { ...entry, inputs };
}

/** A YAML value as plain data; `undefined` (reported) for a `!reference`, which inputs cannot hold. */
function plainValue(node: TreeNode, path: string, problems: ProblemList): unknown {
  switch (node.kind) {
    case 'scalar':
      return node.value;
    case 'seq': {
      const items = node.items.map((item, index) => plainValue(item, `${path}[${index}]`, problems));
      return items.includes(undefined) ? undefined : items;
    }
    case 'map': {
      const entries = [...node.entries].map(([key, value]) => [
        key,
        plainValue(value, `${path}.${key}`, problems),
      ]);
      return entries.some(([, value]) => value === undefined) ? undefined : Object.fromEntries(entries);
    }
    case 'reference':
      problems.error(path, 'an input of a child pipeline must be a value, not a !reference', node);
      return undefined;
  }
}
