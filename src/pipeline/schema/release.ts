import type { ProblemList } from '../config-problem.js';
import type { ReleaseSpec } from '../spec.js';
import { describeNode, type TreeNode } from '../yaml-tree.js';
import { checkKeys, readString, readStringList } from './read-value.js';

const LINK_TYPES = ['other', 'runbook', 'image', 'package'];

/**
 * Reads `release:` (GitLab's keys: `tag_name` required; `name`, `description`, `ref`,
 * `released_at`, `tag_message`, `milestones`, `assets: { links: [{ name, url, link_type,
 * direct_asset_path }] }`). Values keep their `$VARIABLES`: they are expanded when the job succeeds.
 */
export function readRelease(node: TreeNode, path: string, problems: ProblemList): ReleaseSpec | null {
  if (node.kind !== 'map') {
    problems.error(path, `must be a mapping with tag_name, not ${describeNode(node)}`, node);
    return null;
  }
  checkKeys(
    node,
    path,
    new Set(['tag_name', 'name', 'description', 'ref', 'released_at', 'tag_message', 'milestones', 'assets']),
    problems,
  );
  const text = (key: string): string | null => {
    const value = node.entries.get(key);
    return value === undefined ? null : readString(value, `${path}.${key}`, problems);
  };
  const tagName = text('tag_name');
  if (node.entries.get('tag_name') === undefined)
    problems.error(`${path}.tag_name`, 'is required: write tag_name: $CI_COMMIT_TAG', node);
  const releasedAt = text('released_at');
  if (releasedAt !== null && Number.isNaN(Date.parse(releasedAt)))
    problems.error(`${path}.released_at`, 'must be an ISO 8601 time such as 2026-01-31T12:00:00Z', node);
  const milestonesNode = node.entries.get('milestones');
  const milestones =
    milestonesNode === undefined
      ? []
      : (readStringList(milestonesNode, `${path}.milestones`, problems) ?? []);
  const links: ReleaseSpec['links'][number][] = [];
  const assets = node.entries.get('assets');
  if (assets !== undefined) {
    if (assets.kind !== 'map') problems.error(`${path}.assets`, 'must be { links: [...] }', assets);
    else {
      checkKeys(assets, `${path}.assets`, new Set(['links']), problems);
      const list = assets.entries.get('links');
      if (list !== undefined && list.kind !== 'seq')
        problems.error(`${path}.assets.links`, 'must be a list of { name, url }', list);
      if (list?.kind === 'seq') {
        list.items.forEach((item, index) => {
          const where = `${path}.assets.links[${index}]`;
          if (item.kind !== 'map') {
            problems.error(where, 'must be { name, url, link_type, direct_asset_path }', item);
            return;
          }
          checkKeys(
            item,
            where,
            new Set(['name', 'url', 'link_type', 'direct_asset_path', 'filepath']),
            problems,
          );
          const field = (key: string) => {
            const value = item.entries.get(key);
            return value === undefined ? null : readString(value, `${where}.${key}`, problems);
          };
          const name = field('name');
          const url = field('url');
          if (name === null || url === null) {
            problems.error(where, 'needs name and url', item);
            return;
          }
          const linkType = field('link_type') ?? 'other';
          if (!LINK_TYPES.includes(linkType))
            problems.error(`${where}.link_type`, `must be one of ${LINK_TYPES.join(', ')}`, item);
          links.push({
            name,
            url,
            linkType,
            directAssetPath: field('direct_asset_path') ?? field('filepath'),
          });
        });
      }
    }
  }
  if (tagName === null) return null;
  return {
    tagName,
    name: text('name'),
    description: text('description'),
    ref: text('ref'),
    releasedAt,
    tagMessage: text('tag_message'),
    milestones,
    links,
  };
}
