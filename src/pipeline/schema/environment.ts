import type { ProblemList } from '../config-problem.js';
import { parseDuration } from '../duration.js';
import { isEnvironmentName } from '../environment-name.js';
import type { EnvironmentSpec } from '../spec.js';
import { describeNode, type TreeNode } from '../yaml-tree.js';
import { checkKeys, readString } from './read-value.js';

const TIERS = ['production', 'staging', 'testing', 'development', 'other'];
const ACTIONS = ['start', 'prepare', 'stop', 'verify', 'access'] as const;

/** Reads `environment`: a name, or `{ name, url, deployment_tier, action }`. */
export function readEnvironment(node: TreeNode, path: string, problems: ProblemList): EnvironmentSpec | null {
  if (node.kind === 'scalar') {
    const name = readString(
      node,
      path,
      problems,
      'an environment name or { name, url, deployment_tier, action }',
    );
    return name === null
      ? null
      : checkName(name, path, node, problems)
        ? { name, url: null, deploymentTier: null, action: 'start' }
        : null;
  }
  if (node.kind !== 'map') {
    problems.error(
      path,
      `must be an environment name or { name, url, deployment_tier, action }, not ${describeNode(node)}`,
      node,
    );
    return null;
  }
  checkKeys(
    node,
    path,
    new Set(['name', 'url', 'deployment_tier', 'action', 'on_stop', 'auto_stop_in']),
    problems,
    new Set(['kubernetes']),
  );
  const nameNode = node.entries.get('name');
  if (nameNode === undefined) {
    problems.error(`${path}.name`, 'is required: write environment: { name: production }', node);
    return null;
  }
  const name = readString(nameNode, `${path}.name`, problems);
  if (name === null || !checkName(name, `${path}.name`, nameNode, problems)) return null;
  const urlNode = node.entries.get('url');
  const url = urlNode === undefined ? null : readString(urlNode, `${path}.url`, problems);
  const tierNode = node.entries.get('deployment_tier');
  let deploymentTier: string | null = null;
  if (tierNode !== undefined) {
    const tier = readString(tierNode, `${path}.deployment_tier`, problems);
    if (tier !== null && !TIERS.includes(tier)) {
      problems.error(
        `${path}.deployment_tier`,
        `must be one of ${TIERS.join(', ')}, not "${tier}"`,
        tierNode,
      );
    } else deploymentTier = tier;
  }
  const actionNode = node.entries.get('action');
  let action: EnvironmentSpec['action'] = 'start';
  if (actionNode !== undefined) {
    const text = readString(actionNode, `${path}.action`, problems);
    const found = ACTIONS.find((candidate) => candidate === text);
    if (found === undefined) {
      if (text !== null)
        problems.error(`${path}.action`, `must be one of ${ACTIONS.join(', ')}, not "${text}"`, actionNode);
    } else action = found;
  }
  const onStopNode = node.entries.get('on_stop');
  const onStop =
    onStopNode === undefined ? null : readString(onStopNode, `${path}.on_stop`, problems, 'a job name');
  const autoStopNode = node.entries.get('auto_stop_in');
  // undefined: not written (the environment keeps its auto-stop time); null: `never` (clears it).
  let autoStopInSeconds: number | null | undefined;
  if (autoStopNode !== undefined) {
    const text = autoStopNode.kind === 'scalar' ? autoStopNode.value : null;
    const seconds =
      text === 'never'
        ? null
        : typeof text === 'string' || typeof text === 'number'
          ? parseDuration(text)
          : null;
    if (text !== 'never' && seconds === null)
      problems.error(
        `${path}.auto_stop_in`,
        'must be a duration such as "1 week" or "2 days", or never',
        autoStopNode,
      );
    else autoStopInSeconds = seconds;
  }
  return {
    name,
    url,
    deploymentTier,
    action,
    // Only when written, so that environments without them keep their stored shape.
    ...(onStop === null ? {} : { onStop }),
    ...(autoStopInSeconds === undefined ? {} : { autoStopInSeconds }),
  };
}

function checkName(name: string, path: string, node: TreeNode, problems: ProblemList): boolean {
  if (!isEnvironmentName(name, { expanded: false })) {
    problems.error(
      path,
      'an environment name has 1 to 255 letters, digits, spaces and - _ / $ { } ., and does not start or end with /',
      node,
    );
    return false;
  }
  return true;
}
