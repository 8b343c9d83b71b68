import type { ProblemList } from './config-problem.js';
import type { IncludeState } from './include.js';
import { type IncludeEntryPlace, sourceFailure } from './include-project.js';
import type { IncludeContext, IncludeRead } from './include-sources.js';
import { describeNode, type MapNode, type TreeNode } from './yaml-tree.js';

/** A child pipeline's `{ artifact: path, job: name }`: a file of an earlier job's artifacts. */
export interface ArtifactTarget {
  readonly kind: 'artifact';
  /** The path inside the artifacts archive. */
  readonly artifact: string;
  /** The job of the parent pipeline that made it. */
  readonly job: string;
}

/** Reads `artifact` and `job` of an include entry. */
export function readArtifactEntry(
  item: MapNode,
  where: string,
  problems: ProblemList,
): ArtifactTarget | null {
  const artifactNode = item.entries.get('artifact') as TreeNode;
  const jobNode = item.entries.get('job');
  const text = (node: TreeNode | undefined): string | null =>
    node?.kind === 'scalar' && typeof node.value === 'string' && node.value.trim() !== ''
      ? node.value.trim()
      : null;
  const artifact = text(artifactNode);
  const job = text(jobNode);
  if (artifact === null)
    problems.error(
      `${where}.artifact`,
      `must be the path of a file in the job's artifacts, not ${describeNode(artifactNode)}`,
      artifactNode,
    );
  if (job === null)
    problems.error(
      `${where}.job`,
      jobNode === undefined
        ? 'is required with artifact: name the job of this pipeline whose artifacts hold the file'
        : `must be a job name, not ${describeNode(jobNode)}`,
      jobNode ?? item,
    );
  if (artifact === null || job === null) return null;
  return { kind: 'artifact', artifact: artifact.replace(/^\/+/, ''), job };
}

/**
 * Reads a file of a parent pipeline job's artifacts (a dynamic child pipeline). Its own
 * `include:local` entries read the pipeline's repository at its commit, as in GitLab.
 */
export async function readArtifactInclude(
  target: ArtifactTarget,
  place: IncludeEntryPlace,
  context: IncludeContext,
  state: IncludeState,
): Promise<IncludeRead | null> {
  const { where, at } = place;
  const read = state.sources?.readArtifact;
  if (read === undefined) {
    state.problems.error(
      `${where}.artifact`,
      'a file from artifacts is included only by a child pipeline: write it in trigger: { include: [{ artifact: path, job: name }] }',
      at,
    );
    return null;
  }
  let content: string;
  try {
    content = await read(target.job, target.artifact);
  } catch (error) {
    state.problems.error(`${where}.artifact`, sourceFailure(error), at);
    return null;
  }
  if (content.trim() === '') {
    state.problems.error(
      `${where}.artifact`,
      `"${target.artifact}" of the artifacts of job "${target.job}" is empty`,
      at,
    );
    return null;
  }
  return {
    content,
    label: `${target.artifact} of the artifacts of job ${target.job}`,
    context,
    record: {
      type: 'artifact',
      location: target.artifact,
      source: null,
      extra: { job_name: target.job },
      contextProject: context.project ?? null,
      contextSha: context.sha ?? null,
    },
  };
}
