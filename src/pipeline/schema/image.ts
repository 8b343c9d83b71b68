import type { ProblemList } from '../config-problem.js';
import { setOwn } from '../set-own.js';
import type { ImageSpec, ServiceSpec } from '../spec.js';
import { describeNode, type MapNode, type TreeNode } from '../yaml-tree.js';
import { checkKeys, readString, readStringList } from './read-value.js';

/** GitLab's pull policies of `image:pull_policy` and `services:pull_policy`. */
const PULL_POLICIES = ['always', 'if-not-present', 'never'];
const IMAGE_KEYS = new Set(['name', 'entrypoint', 'pull_policy', 'docker']);
const IMAGE_UNSUPPORTED = new Set(['kubernetes']);
const SERVICE_KEYS = new Set([...IMAGE_KEYS, 'alias', 'command', 'variables']);
const SERVICE_UNSUPPORTED = new Set([...IMAGE_UNSUPPORTED, 'ports']);

/** The fields `image:` and a `services:` entry share: `name`, `entrypoint`, `pull_policy`, `docker:user`. */
function readImageFields(node: MapNode, path: string, problems: ProblemList): ImageSpec | null {
  const nameNode = node.entries.get('name');
  if (nameNode === undefined) {
    problems.error(`${path}.name`, 'is required: name the image (e.g. name: alpine:3.20)', node);
    return null;
  }
  const name = readString(nameNode, `${path}.name`, problems);
  if (name === null) return null;
  const spec: { -readonly [K in keyof ImageSpec]: ImageSpec[K] } = { name };
  const entrypoint = node.entries.get('entrypoint');
  if (entrypoint !== undefined) {
    const words = readStringList(entrypoint, `${path}.entrypoint`, problems);
    if (words !== null) spec.entrypoint = words;
  }
  const pull = node.entries.get('pull_policy');
  if (pull !== undefined) {
    const policies = readStringList(pull, `${path}.pull_policy`, problems, { allowSingle: true });
    const unknown = policies?.find((policy) => !PULL_POLICIES.includes(policy));
    if (unknown !== undefined) {
      problems.error(
        `${path}.pull_policy`,
        `must be always, if-not-present or never (or a list of them), not "${unknown}"`,
        pull,
      );
    } else if (policies !== null) spec.pullPolicy = policies;
  }
  const docker = node.entries.get('docker');
  if (docker !== undefined) {
    if (docker.kind !== 'map') {
      problems.error(
        `${path}.docker`,
        `must be a mapping (user, platform), not ${describeNode(docker)}`,
        docker,
      );
    } else {
      checkKeys(docker, `${path}.docker`, new Set(['user', 'platform']), problems, new Set());
      const user = docker.entries.get('user');
      if (user !== undefined) {
        const value = readString(user, `${path}.docker.user`, problems);
        if (value !== null) spec.dockerUser = value;
      }
    }
  }
  return spec;
}

/** Reads `image:`: an image name, or `{name, entrypoint, pull_policy, docker: {user}}`. */
export function readImage(node: TreeNode, path: string, problems: ProblemList): ImageSpec | null {
  if (node.kind === 'scalar' && typeof node.value === 'string') return { name: node.value };
  if (node.kind !== 'map') {
    problems.error(path, `must be an image name or a mapping with name:, not ${describeNode(node)}`, node);
    return null;
  }
  checkKeys(node, path, IMAGE_KEYS, problems, IMAGE_UNSUPPORTED);
  return readImageFields(node, path, problems);
}

/**
 * Reads `services:`: a list of image names or `{name, alias, entrypoint, command, variables,
 * pull_policy, docker: {user}}`.
 */
export function readServices(node: TreeNode, path: string, problems: ProblemList): ServiceSpec[] | null {
  if (node.kind !== 'seq') {
    problems.error(path, `must be a list of services, not ${describeNode(node)}`, node);
    return null;
  }
  const services: ServiceSpec[] = [];
  node.items.forEach((item, index) => {
    const at = `${path}[${index}]`;
    if (item.kind === 'scalar' && typeof item.value === 'string') {
      services.push({ name: item.value });
      return;
    }
    if (item.kind !== 'map') {
      problems.error(at, `must be an image name or a mapping with name:, not ${describeNode(item)}`, item);
      return;
    }
    checkKeys(item, at, SERVICE_KEYS, problems, SERVICE_UNSUPPORTED);
    const image = readImageFields(item, at, problems);
    if (image === null) return;
    const service: { -readonly [K in keyof ServiceSpec]: ServiceSpec[K] } = { ...image };
    const alias = item.entries.get('alias');
    if (alias !== undefined) {
      const value = readString(alias, `${at}.alias`, problems);
      if (value !== null) service.alias = value;
    }
    const command = item.entries.get('command');
    if (command !== undefined) {
      const words = readStringList(command, `${at}.command`, problems);
      if (words !== null) service.command = words;
    }
    const variables = item.entries.get('variables');
    if (variables !== undefined) {
      if (variables.kind !== 'map') {
        problems.error(
          `${at}.variables`,
          `must be a mapping of names to values, not ${describeNode(variables)}`,
          variables,
        );
      } else {
        const values: Record<string, string> = {};
        for (const [key, value] of variables.entries) {
          const text = readString(value, `${at}.variables.${key}`, problems);
          if (text !== null) setOwn(values, key, text);
        }
        service.variables = values;
      }
    }
    services.push(service);
  });
  return services;
}
