import type { ProblemList } from '../config-problem.js';
import type { CacheSpec } from '../spec.js';
import { describeNode, type MapNode, type TreeNode } from '../yaml-tree.js';
import { readChoice } from './artifacts.js';
import { checkKeys, readBoolean, readString, readStringList } from './read-value.js';

/** GitLab's limit on `cache:` entries per job. */
export const MAX_CACHES = 4;

const CACHE_KEYS = new Set(['key', 'paths', 'untracked', 'policy', 'when', 'fallback_keys', 'unprotect']);

/**
 * Reads `cache:`: one entry or a list of up to {@link MAX_CACHES}. `null` (`cache: []` or an empty
 * `cache:`) is no cache, which also turns off a `default:` cache, as GitLab.
 */
export function readCache(node: TreeNode, path: string, problems: ProblemList): CacheSpec[] {
  if (node.kind === 'scalar' && node.value === null) return [];
  if (node.kind === 'map') {
    const entry = readCacheEntry(node, path, problems);
    return entry === null ? [] : [entry];
  }
  if (node.kind !== 'seq') {
    problems.error(
      path,
      `must be a mapping such as { key: deps, paths: [node_modules/] } or a list of them, not ${describeNode(node)}`,
      node,
    );
    return [];
  }
  if (node.items.length > MAX_CACHES) {
    problems.error(path, `a job may have at most ${MAX_CACHES} caches, not ${node.items.length}`, node);
    return [];
  }
  const caches: CacheSpec[] = [];
  node.items.forEach((item, index) => {
    const where = `${path}[${index}]`;
    if (item.kind !== 'map') {
      problems.error(
        where,
        `must be a mapping such as { key: deps, paths: [node_modules/] }, not ${describeNode(item)}`,
        item,
      );
      return;
    }
    const entry = readCacheEntry(item, where, problems);
    if (entry !== null) caches.push(entry);
  });
  return caches;
}

function readCacheEntry(node: MapNode, path: string, problems: ProblemList): CacheSpec | null {
  checkKeys(node, path, CACHE_KEYS, problems);
  const get = (key: string): TreeNode | undefined => node.entries.get(key);
  let key: CacheSpec['key'] = 'default';
  const keyNode = get('key');
  if (keyNode !== undefined) {
    if (keyNode.kind === 'map') {
      checkKeys(keyNode, `${path}.key`, new Set(['files', 'prefix']), problems);
      const filesNode = keyNode.entries.get('files');
      const files = filesNode === undefined ? null : readStringList(filesNode, `${path}.key.files`, problems);
      if (files === null || files.length === 0 || files.length > 2) {
        if (files !== null || filesNode === undefined)
          problems.error(
            `${path}.key.files`,
            'is required: list one or two files, such as [package-lock.json]',
            filesNode ?? keyNode,
          );
      } else {
        const prefixNode = keyNode.entries.get('prefix');
        const prefix =
          prefixNode === undefined ? null : readString(prefixNode, `${path}.key.prefix`, problems);
        key = { files, prefix };
      }
    } else {
      const text = readString(keyNode, `${path}.key`, problems, 'a key or { files, prefix }');
      if (text !== null) {
        // GitLab's rules: not `.` or `..` (URL-encoded either), no `/`.
        if (/[/]|%2f/i.test(text) || /^(\.|%2e){1,2}$/i.test(text)) {
          problems.error(`${path}.key`, 'cannot contain "/" or be "." or ".."', keyNode);
        } else key = text;
      }
    }
  }
  const pathsNode = get('paths');
  const paths = pathsNode === undefined ? [] : (readStringList(pathsNode, `${path}.paths`, problems) ?? []);
  const untrackedNode = get('untracked');
  const untracked =
    untrackedNode === undefined
      ? false
      : (readBoolean(untrackedNode, `${path}.untracked`, problems) ?? false);
  const policyNode = get('policy');
  const policy =
    policyNode === undefined
      ? 'pull-push'
      : readChoice(policyNode, `${path}.policy`, ['pull-push', 'pull', 'push'] as const, problems);
  const whenNode = get('when');
  const when =
    whenNode === undefined
      ? 'on_success'
      : readChoice(whenNode, `${path}.when`, ['on_success', 'on_failure', 'always'] as const, problems);
  const fallbackNode = get('fallback_keys');
  const fallbackKeys =
    fallbackNode === undefined ? [] : (readStringList(fallbackNode, `${path}.fallback_keys`, problems) ?? []);
  if (fallbackKeys.length > 5)
    problems.error(`${path}.fallback_keys`, 'may list at most 5 keys', fallbackNode ?? node);
  const unprotectNode = get('unprotect');
  const unprotect =
    unprotectNode === undefined
      ? false
      : (readBoolean(unprotectNode, `${path}.unprotect`, problems) ?? false);
  return { key, paths, untracked, policy, when, fallbackKeys, unprotect };
}
