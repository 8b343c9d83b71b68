import type { ProblemList } from '../config-problem.js';
import { parseDuration } from '../duration.js';
import { PIPELINE_LIMITS } from '../limits.js';
import type { ArtifactsSpec, CacheSpec, HooksSpec, IdTokenSpec, ImageSpec, ServiceSpec } from '../spec.js';
import { describeNode, type TreeNode } from '../yaml-tree.js';
import { readArtifacts } from './artifacts.js';
import { readCache } from './cache.js';
import { readHooks } from './hooks.js';
import { readIdTokens } from './id-tokens.js';
import { readImage, readServices } from './image.js';
import { checkKeys, readBoolean, readInteger, readScript, readStringList } from './read-value.js';

const RETRY_WHEN = [
  'always',
  'unknown_failure',
  'script_failure',
  'api_failure',
  'stuck_or_timeout_failure',
  'runner_system_failure',
  'runner_unsupported',
  'stale_schedule',
  'job_execution_timeout',
  'archived_failure',
  'unmet_prerequisites',
  'scheduler_failure',
  'data_integrity_failure',
  // GitLab 19.0 splits stuck_or_timeout_failure into these.
  'stuck_pending_with_matching_runners',
  'stuck_pending_no_matching_runners',
  'no_updates_running',
  'no_updates_canceling',
  'server_timeout_running',
  'server_timeout_canceling',
];

/**
 * `retry`: a number 0–2, or `{ max, when, exit_codes }`; `when` defaults to `always`, as GitLab.
 * `exit_codes` (0–255) retries on those exit codes; with it, `always` alone no longer retries.
 */
export function readRetry(
  node: TreeNode,
  path: string,
  problems: ProblemList,
): { max: number; when: string[]; exitCodes?: number[] } | null {
  if (node.kind === 'scalar' && typeof node.value === 'number') {
    const max = readInteger(node, path, problems, 0, 2);
    return max === null ? null : { max, when: ['always'] };
  }
  if (node.kind !== 'map') {
    problems.error(path, `must be 0, 1, 2 or { max, when }, not ${describeNode(node)}`, node);
    return null;
  }
  checkKeys(node, path, new Set(['max', 'when', 'exit_codes']), problems);
  const exitCodesNode = node.entries.get('exit_codes');
  let exitCodes: number[] | undefined;
  if (exitCodesNode !== undefined) {
    const items = exitCodesNode.kind === 'seq' ? exitCodesNode.items : [exitCodesNode];
    exitCodes = [];
    items.forEach((item, index) => {
      const where = exitCodesNode.kind === 'seq' ? `${path}.exit_codes[${index}]` : `${path}.exit_codes`;
      const code = readInteger(item, where, problems, 0, 255);
      if (code !== null) exitCodes?.push(code);
    });
  }
  const maxNode = node.entries.get('max');
  const max = maxNode === undefined ? 0 : readInteger(maxNode, `${path}.max`, problems, 0, 2);
  const whenNode = node.entries.get('when');
  let when = ['always'];
  if (whenNode !== undefined) {
    const list = readStringList(whenNode, `${path}.when`, problems, { allowSingle: true });
    if (list !== null) {
      const bad = list.filter((reason) => !RETRY_WHEN.includes(reason));
      if (bad.length > 0)
        problems.error(
          `${path}.when`,
          `unknown failure reason ${bad.map((reason) => `"${reason}"`).join(', ')}; use ${RETRY_WHEN.join(', ')}`,
          whenNode,
        );
      else when = list;
    }
  }
  if (max === null) return null;
  return exitCodes === undefined ? { max, when } : { max, when, exitCodes };
}

/** `timeout`: a human duration (`1h 30m`, `90 minutes`, `3600`), at least 1 second and at most a month. */
export function readTimeout(node: TreeNode, path: string, problems: ProblemList): number | null {
  const seconds =
    node.kind === 'scalar' && (typeof node.value === 'string' || typeof node.value === 'number')
      ? parseDuration(node.value)
      : null;
  if (seconds === null) {
    problems.error(
      path,
      `must be a duration such as "1h 30m", "45 minutes" or "3600", not ${node.kind === 'scalar' ? JSON.stringify(node.value) : describeNode(node)}`,
      node,
    );
    return null;
  }
  if (seconds < 1 || seconds > PIPELINE_LIMITS.maxTimeoutSeconds) {
    problems.error(
      path,
      `must be between 1 second and 1 month (${PIPELINE_LIMITS.maxTimeoutSeconds} seconds), not ${seconds} seconds`,
      node,
    );
    return null;
  }
  return seconds;
}

/** What `default` (and the deprecated top-level `before_script`/`after_script`) give every job. */
export interface DefaultSpec {
  beforeScript?: string[];
  afterScript?: string[];
  hooks?: HooksSpec;
  tags?: string[];
  timeoutSeconds?: number;
  retry?: { max: number; when: string[]; exitCodes?: number[] };
  interruptible?: boolean;
  idTokens?: Record<string, IdTokenSpec>;
  image?: ImageSpec;
  services?: ServiceSpec[];
  /** `null`: `default: artifacts:` written empty. */
  artifacts?: ArtifactsSpec | null;
  cache?: CacheSpec[];
}

/** The keywords `default` takes. */
export const DEFAULT_KEYS = new Set([
  'before_script',
  'after_script',
  'hooks',
  'image',
  'services',
  'tags',
  'timeout',
  'retry',
  'interruptible',
  'id_tokens',
  'artifacts',
  'cache',
]);
const DEFAULT_UNSUPPORTED = new Set(['identity']);

/** Reads `default`. Keys a job sets itself replace the default entirely (no merge), as GitLab. */
export function readDefault(node: TreeNode, problems: ProblemList): DefaultSpec {
  const spec: DefaultSpec = {};
  if (node.kind === 'scalar' && node.value === null) return spec;
  if (node.kind !== 'map') {
    problems.error('default', `must be a mapping of job keywords, not ${describeNode(node)}`, node);
    return spec;
  }
  checkKeys(node, 'default', DEFAULT_KEYS, problems, DEFAULT_UNSUPPORTED);
  const get = (key: string): TreeNode | undefined => node.entries.get(key);
  const before = get('before_script');
  if (before !== undefined) spec.beforeScript = readScript(before, 'default.before_script', problems) ?? [];
  const after = get('after_script');
  if (after !== undefined) spec.afterScript = readScript(after, 'default.after_script', problems) ?? [];
  const hooks = get('hooks');
  if (hooks !== undefined) {
    const value = readHooks(hooks, 'default.hooks', problems);
    if (value !== null) spec.hooks = value;
  }
  const tags = get('tags');
  if (tags !== undefined) spec.tags = readStringList(tags, 'default.tags', problems) ?? [];
  const timeout = get('timeout');
  if (timeout !== undefined) {
    const seconds = readTimeout(timeout, 'default.timeout', problems);
    if (seconds !== null) spec.timeoutSeconds = seconds;
  }
  const retry = get('retry');
  if (retry !== undefined) {
    const value = readRetry(retry, 'default.retry', problems);
    if (value !== null) spec.retry = value;
  }
  const interruptible = get('interruptible');
  if (interruptible !== undefined) {
    const value = readBoolean(interruptible, 'default.interruptible', problems);
    if (value !== null) spec.interruptible = value;
  }
  const idTokens = get('id_tokens');
  if (idTokens !== undefined) spec.idTokens = readIdTokens(idTokens, 'default.id_tokens', problems);
  const artifacts = get('artifacts');
  if (artifacts !== undefined) spec.artifacts = readArtifacts(artifacts, 'default.artifacts', problems);
  const cache = get('cache');
  if (cache !== undefined) spec.cache = readCache(cache, 'default.cache', problems);
  const image = get('image');
  if (image !== undefined) {
    const value = readImage(image, 'default.image', problems);
    if (value !== null) spec.image = value;
  }
  const services = get('services');
  if (services !== undefined) {
    const value = readServices(services, 'default.services', problems);
    if (value !== null) spec.services = value;
  }
  return spec;
}
