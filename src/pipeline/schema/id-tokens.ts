import type { ProblemList } from '../config-problem.js';
import { parseDuration } from '../duration.js';
import { setOwn } from '../set-own.js';
import type { IdTokenSpec } from '../spec.js';
import { describeNode, keyPosition, type TreeNode } from '../yaml-tree.js';
import { checkKeys, readString } from './read-value.js';

const TOKEN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ALGORITHMS = ['RS256', 'ES256'] as const;

/**
 * Reads `id_tokens`: `NAME: { aud, ttl, alg }`. `aud` is required (a non-empty string or list of
 * non-empty strings; variables stay as written). Tessera's extensions: `ttl` (seconds, or a
 * duration such as `10m`) and `alg` (`RS256` or `ES256`).
 */
export function readIdTokens(
  node: TreeNode,
  path: string,
  problems: ProblemList,
): Record<string, IdTokenSpec> {
  const tokens: Record<string, IdTokenSpec> = {};
  if (node.kind !== 'map') {
    problems.error(
      path,
      `must be a mapping such as { VAULT_ID_TOKEN: { aud: https://vault.example.com } }, not ${describeNode(node)}`,
      node,
    );
    return tokens;
  }
  for (const [name, value] of node.entries) {
    const where = `${path}.${name}`;
    const at = keyPosition(node, name);
    if (!TOKEN_NAME.test(name)) {
      problems.error(
        where,
        'an ID token name is a variable name: letters, digits and _, not starting with a digit',
        at,
      );
      continue;
    }
    if (value.kind !== 'map') {
      problems.error(
        where,
        `must be { aud: … }, not ${describeNode(value)}`,
        value.kind === 'scalar' ? at : value,
      );
      continue;
    }
    checkKeys(value, where, new Set(['aud', 'ttl', 'alg']), problems);
    const audNode = value.entries.get('aud');
    let aud: string | string[] | null = null;
    if (audNode === undefined) {
      problems.error(
        `${where}.aud`,
        'is required: write aud: https://relying-party.example.com (or a list)',
        at,
      );
    } else if (audNode.kind === 'seq') {
      const list: string[] = [];
      audNode.items.forEach((item, index) => {
        const text = readAudience(item, `${where}.aud[${index}]`, problems);
        if (text !== null && text.trim() === '')
          problems.error(`${where}.aud[${index}]`, 'must not be empty', item);
        else if (text !== null) list.push(text);
      });
      if (audNode.items.length === 0)
        problems.error(`${where}.aud`, 'must list at least one audience', audNode);
      else if (list.length === audNode.items.length) aud = list;
    } else {
      const text = readAudience(audNode, `${where}.aud`, problems);
      if (text !== null && text.trim() === '') problems.error(`${where}.aud`, 'must not be empty', audNode);
      else aud = text;
    }
    let ttl: number | null = null;
    const ttlNode = value.entries.get('ttl');
    if (ttlNode !== undefined) {
      const raw = ttlNode.kind === 'scalar' ? ttlNode.value : null;
      const seconds = typeof raw === 'number' || typeof raw === 'string' ? parseDuration(raw) : null;
      if (seconds === null || seconds < 1 || (typeof raw === 'number' && !Number.isInteger(raw))) {
        problems.error(
          `${where}.ttl`,
          'must be a lifetime in whole seconds (300) or a duration (5m), at least 1 second',
          ttlNode,
        );
      } else ttl = seconds;
    }
    let alg: IdTokenSpec['alg'] = null;
    const algNode = value.entries.get('alg');
    if (algNode !== undefined) {
      const text = readString(algNode, `${where}.alg`, problems);
      const found = ALGORITHMS.find((candidate) => candidate === text);
      if (found === undefined) {
        if (text !== null) problems.error(`${where}.alg`, `must be RS256 or ES256, not "${text}"`, algNode);
      } else alg = found;
    }
    if (aud !== null) setOwn(tokens, name, { aud, ttl, alg });
  }
  return tokens;
}

// GitLab takes only strings for aud; a bare number in YAML is a mistake worth naming.
function readAudience(node: TreeNode, path: string, problems: ProblemList): string | null {
  if (node.kind === 'scalar' && typeof node.value === 'string') return node.value;
  problems.error(
    path,
    `must be a string or a list of strings (quote numbers), not ${describeNode(node)}`,
    node,
  );
  return null;
}
