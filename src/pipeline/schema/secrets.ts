import type { ProblemList } from '../config-problem.js';
import { setOwn } from '../set-own.js';
import type { SecretSpec } from '../spec.js';
import { describeNode, keyPosition, type TreeNode } from '../yaml-tree.js';
import { checkKeys, readBoolean, readString } from './read-value.js';

const ENGINES = ['kv-v2', 'kv-v1', 'generic'];
const OTHER_PROVIDERS = new Set([
  'gcp_secret_manager',
  'azure_key_vault',
  'akeyless',
  'gitlab_secrets_manager',
  'aws_secrets_manager',
]);

/**
 * Reads `secrets`: `NAME: { vault, file, token }`, where `vault` is the short form
 * `path/to/secret/field@engine-path` (engine `kv-v2`, mounted at `kv-v2` unless `@` says otherwise)
 * or `{ engine: { name, path }, path, field }`. `file` defaults to `true` as GitLab; `token` names an
 * `id_tokens` entry as `$NAME` (checked against the job's tokens by the caller).
 */
export function readSecrets(node: TreeNode, path: string, problems: ProblemList): Record<string, SecretSpec> {
  const secrets: Record<string, SecretSpec> = {};
  if (node.kind !== 'map') {
    problems.error(
      path,
      `must be a mapping such as { DB_PASSWORD: { vault: production/db/password@ops } }, not ${describeNode(node)}`,
      node,
    );
    return secrets;
  }
  for (const [name, value] of node.entries) {
    const where = `${path}.${name}`;
    const at = keyPosition(node, name);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      problems.error(where, 'a secret name is a variable name: letters, digits and _', at);
      continue;
    }
    if (value.kind !== 'map') {
      problems.error(
        where,
        `must be { vault: … }, not ${describeNode(value)}`,
        value.kind === 'scalar' ? at : value,
      );
      continue;
    }
    checkKeys(value, where, new Set(['vault', 'file', 'token']), problems, OTHER_PROVIDERS);
    const vaultNode = value.entries.get('vault');
    if (vaultNode === undefined) {
      if (![...value.entries.keys()].some((key) => OTHER_PROVIDERS.has(key))) {
        problems.error(`${where}.vault`, 'is required: write vault: path/to/secret/field@engine-path', at);
      }
      continue;
    }
    const vault = readVault(vaultNode, `${where}.vault`, problems);
    const fileNode = value.entries.get('file');
    const file = fileNode === undefined ? true : (readBoolean(fileNode, `${where}.file`, problems) ?? true);
    const tokenNode = value.entries.get('token');
    let token: string | null = null;
    if (tokenNode !== undefined) {
      const text = readString(tokenNode, `${where}.token`, problems);
      if (text !== null && !/^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$/.test(text)) {
        problems.error(`${where}.token`, `must name an id_tokens entry as $NAME, not "${text}"`, tokenNode);
      } else token = text;
    }
    if (vault !== null) setOwn(secrets, name, { vault, file, token });
  }
  return secrets;
}

function readVault(node: TreeNode, path: string, problems: ProblemList): SecretSpec['vault'] | null {
  if (node.kind === 'scalar') {
    const text = readString(node, path, problems);
    if (text === null) return null;
    const at = text.lastIndexOf('@');
    const location = at < 0 ? text : text.slice(0, at);
    const enginePath = at < 0 ? 'kv-v2' : text.slice(at + 1);
    const slash = location.lastIndexOf('/');
    if (slash <= 0 || slash === location.length - 1 || enginePath === '') {
      problems.error(
        path,
        `"${text}" must be path/to/secret/field or path/to/secret/field@engine-path`,
        node,
      );
      return null;
    }
    return {
      engine: { name: 'kv-v2', path: enginePath },
      path: location.slice(0, slash),
      field: location.slice(slash + 1),
    };
  }
  if (node.kind !== 'map') {
    problems.error(
      path,
      `must be path/to/secret/field@engine or { engine, path, field }, not ${describeNode(node)}`,
      node,
    );
    return null;
  }
  checkKeys(node, path, new Set(['engine', 'path', 'field']), problems);
  const engineNode = node.entries.get('engine');
  const pathNode = node.entries.get('path');
  const fieldNode = node.entries.get('field');
  let ok = true;
  for (const [key, child] of [
    ['engine', engineNode],
    ['path', pathNode],
    ['field', fieldNode],
  ] as const) {
    if (child === undefined) {
      problems.error(`${path}.${key}`, `is required in the long form of vault`, node);
      ok = false;
    }
  }
  if (!ok || engineNode === undefined || pathNode === undefined || fieldNode === undefined) return null;
  const secretPath = readString(pathNode, `${path}.path`, problems);
  const field = readString(fieldNode, `${path}.field`, problems);
  if (engineNode.kind !== 'map') {
    problems.error(
      `${path}.engine`,
      `must be { name: kv-v2, path: secret }, not ${describeNode(engineNode)}`,
      engineNode,
    );
    return null;
  }
  checkKeys(engineNode, `${path}.engine`, new Set(['name', 'path']), problems);
  const engineName = engineNode.entries.get('name');
  const enginePath = engineNode.entries.get('path');
  if (engineName === undefined || enginePath === undefined) {
    problems.error(
      `${path}.engine`,
      'needs name (kv-v2, kv-v1 or generic) and path',
      keyPosition(node, 'engine'),
    );
    return null;
  }
  const name = readString(engineName, `${path}.engine.name`, problems);
  if (name !== null && !ENGINES.includes(name)) {
    problems.error(`${path}.engine.name`, `must be one of ${ENGINES.join(', ')}, not "${name}"`, engineName);
    return null;
  }
  const mount = readString(enginePath, `${path}.engine.path`, problems);
  if (name === null || mount === null || secretPath === null || field === null) return null;
  return { engine: { name, path: mount }, path: secretPath, field };
}
