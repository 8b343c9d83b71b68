/** The commit GitLab writes for "no commit": the before of a new ref. */
export const ZERO_SHA = '0000000000000000000000000000000000000000';

/** A branch or tag that is new or moved since the last look. */
export interface RefChange {
  type: 'branch' | 'tag';
  /** Branch or tag name, without `refs/heads/` or `refs/tags/`. */
  name: string;
  fullRef: string;
  /** What it pointed at before ({@link ZERO_SHA} for a new ref). */
  before: string;
  after: string;
}

/**
 * What changed between two looks at a repository's refs (full ref name → commit): new and moved
 * branches and tags, branches first, each in name order. A deleted ref is no change: it starts
 * nothing. A force-pushed branch is a moved branch (GitLab starts a push pipeline for it too).
 */
export function mirrorChanges(
  before: Readonly<Record<string, string>>,
  after: ReadonlyMap<string, string>,
): RefChange[] {
  const changes: RefChange[] = [];
  for (const [fullRef, sha] of after) {
    const old = before[fullRef];
    if (old === sha) continue;
    const branch = fullRef.startsWith('refs/heads/');
    if (!branch && !fullRef.startsWith('refs/tags/')) continue;
    changes.push({
      type: branch ? 'branch' : 'tag',
      name: fullRef.slice(branch ? 'refs/heads/'.length : 'refs/tags/'.length),
      fullRef,
      before: old ?? ZERO_SHA,
      after: sha,
    });
  }
  return changes.sort((a, b) =>
    a.type === b.type ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.type === 'branch' ? -1 : 1,
  );
}
