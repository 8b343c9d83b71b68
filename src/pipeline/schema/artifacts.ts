import type { ProblemList } from '../config-problem.js';
import { parseDuration } from '../duration.js';
import type { ArtifactsSpec } from '../spec.js';
import { describeNode, keyPosition, type TreeNode } from '../yaml-tree.js';
import { checkKeys, readBoolean, readString, readStringList } from './read-value.js';

const ARTIFACT_WHEN = ['on_success', 'on_failure', 'always'] as const;
const ACCESS = ['all', 'developer', 'maintainer', 'none'] as const;

/**
 * Every `artifacts:reports` type GitLab knows. `dotenv` and `junit` are read by Tessera; the
 * others are uploaded, stored and listed like any report.
 */
export const REPORT_TYPES = [
  'accessibility',
  'annotations',
  'api_fuzzing',
  'browser_performance',
  'codequality',
  'container_scanning',
  'coverage_fuzzing',
  'coverage_report',
  'cyclonedx',
  'dast',
  'dependency_scanning',
  'dotenv',
  'junit',
  'load_performance',
  'metrics',
  'requirements',
  'repository_xray',
  'sast',
  'secret_detection',
  'terraform',
] as const;

/** GitLab's limit on `artifacts:expose_as`. */
const EXPOSE_AS = /^[a-zA-Z0-9 _-]+$/;

/**
 * Reads `artifacts:` (`paths`, `exclude`, `untracked`, `when`, `expire_in`, `name`, `expose_as`,
 * `public`/`access`, `reports`). A `null` value (`artifacts:` with nothing under it) is none.
 */
export function readArtifacts(node: TreeNode, path: string, problems: ProblemList): ArtifactsSpec | null {
  if (node.kind === 'scalar' && node.value === null) return null;
  if (node.kind !== 'map') {
    problems.error(path, `must be a mapping such as { paths: [dist/] }, not ${describeNode(node)}`, node);
    return null;
  }
  checkKeys(
    node,
    path,
    new Set([
      'paths',
      'exclude',
      'untracked',
      'when',
      'expire_in',
      'name',
      'expose_as',
      'public',
      'access',
      'reports',
    ]),
    problems,
  );
  const get = (key: string): TreeNode | undefined => node.entries.get(key);
  const list = (key: string): string[] => {
    const value = get(key);
    return value === undefined ? [] : (readStringList(value, `${path}.${key}`, problems) ?? []);
  };
  const paths = list('paths');
  const exclude = list('exclude');
  const untrackedNode = get('untracked');
  const untracked =
    untrackedNode === undefined
      ? false
      : (readBoolean(untrackedNode, `${path}.untracked`, problems) ?? false);
  const whenNode = get('when');
  const when =
    whenNode === undefined ? 'on_success' : readChoice(whenNode, `${path}.when`, ARTIFACT_WHEN, problems);
  const expireNode = get('expire_in');
  let expireIn: string | null = null;
  if (expireNode !== undefined) {
    const text =
      expireNode.kind === 'scalar' && typeof expireNode.value === 'number'
        ? String(expireNode.value)
        : readString(expireNode, `${path}.expire_in`, problems);
    if (text !== null) {
      if (text.trim().toLowerCase() === 'never' || parseDuration(text) !== null) expireIn = text;
      else
        problems.error(
          `${path}.expire_in`,
          `must be a duration such as "1 week", "3 days 12 hours" or "never", not ${JSON.stringify(text)}`,
          expireNode,
        );
    }
  }
  const nameNode = get('name');
  const name = nameNode === undefined ? null : readString(nameNode, `${path}.name`, problems);
  const exposeNode = get('expose_as');
  let exposeAs: string | null = null;
  if (exposeNode !== undefined) {
    exposeAs = readString(exposeNode, `${path}.expose_as`, problems);
    if (exposeAs !== null && !EXPOSE_AS.test(exposeAs)) {
      problems.error(`${path}.expose_as`, 'may contain only letters, digits, spaces, - and _', exposeNode);
      exposeAs = null;
    }
  }
  const publicNode = get('public');
  const accessNode = get('access');
  let access: ArtifactsSpec['access'] = 'all';
  if (publicNode !== undefined && accessNode !== undefined) {
    problems.error(
      `${path}.public`,
      'public and access cannot be used together; keep access',
      keyPosition(node, 'public'),
    );
  } else if (publicNode !== undefined) {
    access = readBoolean(publicNode, `${path}.public`, problems) === false ? 'developer' : 'all';
  } else if (accessNode !== undefined) {
    access = readChoice(accessNode, `${path}.access`, ACCESS, problems);
  }
  const reportsNode = get('reports');
  const reports: Record<string, string[]> = {};
  if (reportsNode !== undefined) {
    if (reportsNode.kind !== 'map') {
      problems.error(
        `${path}.reports`,
        `must be a mapping such as { junit: report.xml }, not ${describeNode(reportsNode)}`,
        reportsNode,
      );
    } else {
      checkKeys(reportsNode, `${path}.reports`, new Set(REPORT_TYPES), problems);
      for (const [type, value] of reportsNode.entries) {
        if (!(REPORT_TYPES as readonly string[]).includes(type)) continue;
        const where = `${path}.reports.${type}`;
        if (type === 'coverage_report') {
          // GitLab's only map-valued report: { coverage_format: cobertura|jacoco, path }.
          if (value.kind !== 'map') {
            problems.error(where, 'must be { coverage_format: cobertura, path: coverage.xml }', value);
            continue;
          }
          checkKeys(value, where, new Set(['coverage_format', 'path']), problems);
          const format = value.entries.get('coverage_format');
          if (format !== undefined)
            readChoice(format, `${where}.coverage_format`, ['cobertura', 'jacoco'] as const, problems);
          const file = value.entries.get('path');
          const text = file === undefined ? null : readString(file, `${where}.path`, problems);
          if (text === null) problems.error(`${where}.path`, 'is required', value);
          else reports[type] = [text];
          continue;
        }
        const files = readStringList(value, where, problems, { allowSingle: true });
        if (files !== null) reports[type] = files;
      }
    }
  }
  if (paths.length === 0 && !untracked && Object.keys(reports).length === 0 && exposeAs === null) {
    // GitLab accepts such an entry and uploads nothing; say so instead of silently ignoring it.
    problems.warn(path, 'has no paths, untracked or reports, so the job uploads nothing', node);
  }
  if (exposeAs !== null && paths.length === 0) {
    problems.error(`${path}.expose_as`, 'needs artifacts:paths too', exposeNode ?? node);
  }
  return { paths, exclude, untracked, when, expireIn, name, exposeAs, access, reports };
}

/** One of `choices`; the first choice after an error (the error already fails the pipeline). */
export function readChoice<T extends string>(
  node: TreeNode,
  path: string,
  choices: readonly T[],
  problems: ProblemList,
): T {
  const text = readString(node, path, problems);
  const found = choices.find((choice) => choice === text);
  if (found !== undefined) return found;
  if (text !== null) problems.error(path, `must be one of ${choices.join(', ')}, not "${text}"`, node);
  return choices[0]!;
}
