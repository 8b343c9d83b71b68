import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Coordinator } from '../coordinator/coordinator.js';
import { createPipeline, gitReader } from '../coordinator/create-pipeline.js';
import { refProtection } from '../coordinator/protected-ref.js';
import { stopBranchEnvironments } from '../coordinator/stop-branch-environments.js';
import { TesseraError } from '../errors.js';
import { mirrorChanges, type RefChange } from './mirror-changes.js';

/** How long a node may hold a mirror's lease (a look at a slow remote, and its pipelines). */
const MIRROR_LEASE_MS = 5 * 60_000;

const nodeIds = new WeakMap<Coordinator, string>();

/** This coordinator node's name in mirror leases (host, process, and a random part). */
export function mirrorNodeId(coordinator: Coordinator): string {
  let id = nodeIds.get(coordinator);
  if (!id) {
    id = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    nodeIds.set(coordinator, id);
  }
  return id;
}

/** A pipeline a mirror update started (or could not start) for one changed ref. */
export interface MirrorPipeline {
  ref: string;
  type: 'branch' | 'tag';
  before: string;
  after: string;
  pipelineId: number | null;
  error: string | null;
}

/** What one {@link updateMirror} did. */
export interface MirrorUpdate {
  /** False when another node (or this one) holds the lease: nothing was looked at. */
  claimed: boolean;
  /** The first look: the refs were recorded and nothing started. */
  baseline: boolean;
  pipelines: MirrorPipeline[];
  /** Why the repository could not be read, or null. */
  error: string | null;
}

function describe(error: unknown): string {
  return error instanceof TesseraError ? `${error.code}: ${error.message}` : 'internal error';
}

/**
 * Looks at a pull-mirrored project's repository now (`git ls-remote`) and starts a `push`
 * pipeline, as the mirror user, for each branch or tag that is new or moved since the last look,
 * with `CI_COMMIT_BEFORE_SHA` set to where it was (zeros when new). Deleted refs start nothing. The
 * first look only records the refs. With `only_mirror_protected_branches`, branches that match no
 * protected branch are not mirrored. With `mirror_trigger_builds` off, refs are recorded and no
 * pipeline starts.
 *
 * Runs under the mirror's lease in the database, so of several nodes (or a webhook and the
 * watcher) only one looks at a time; without the lease it does nothing and says so.
 */
export async function updateMirror(coordinator: Coordinator, projectId: number): Promise<MirrorUpdate> {
  const repos = coordinator.repos;
  const node = mirrorNodeId(coordinator);
  const start = coordinator.clock();
  const intervalMs = coordinator.config.mirrorInterval * 1000;
  if (!(await repos.projectMirrors.claim(projectId, node, start, start + MIRROR_LEASE_MS))) {
    return { claimed: false, baseline: false, pipelines: [], error: null };
  }
  const pipelines: MirrorPipeline[] = [];
  let knownRefs: Record<string, string> | undefined;
  let failure: string | null = null;
  let baseline = false;
  try {
    const mirror = await repos.projectMirrors.find(projectId);
    const project = await repos.projects.findById(projectId);
    if (!mirror || !project) throw new TesseraError('ERR_NOT_FOUND', `project ${projectId} not found`);
    const remote = await gitReader(coordinator).listRefs(project.repositoryUrl);
    const mirrored = new Map<string, string>();
    for (const [fullRef, sha] of remote) {
      if (mirror.onlyProtectedBranches && fullRef.startsWith('refs/heads/')) {
        const name = fullRef.slice('refs/heads/'.length);
        if (!(await refProtection(coordinator.store.db, project.id, 'branch', name)).protected) continue;
      }
      mirrored.set(fullRef, sha);
    }
    knownRefs = Object.fromEntries(mirrored);
    baseline = mirror.knownRefs === null;
    const changes: RefChange[] = baseline ? [] : mirrorChanges(mirror.knownRefs ?? {}, mirrored);
    if (mirror.triggerBuilds && changes.length > 0) {
      const user = await repos.users.findById(mirror.userId);
      for (const change of changes) {
        const entry: MirrorPipeline = {
          ref: change.name,
          type: change.type,
          before: change.before,
          after: change.after,
          pipelineId: null,
          error: null,
        };
        try {
          if (user?.state !== 'active') {
            throw new TesseraError('ERR_FORBIDDEN', 'the mirror user is not an active user');
          }
          const pipeline = await createPipeline(coordinator, {
            project,
            user,
            ref: change.name,
            source: 'push',
            resolvedRef: { name: change.name, type: change.type, fullRef: change.fullRef, sha: change.after },
            beforeSha: change.before,
          });
          entry.pipelineId = pipeline.id;
        } catch (error) {
          entry.error = describe(error);
        }
        pipelines.push(entry);
      }
    }
    // A branch gone from the remote (not merely left out as unprotected) stops its environments.
    const deletedBranches = Object.keys(mirror.knownRefs ?? {})
      .filter((fullRef) => fullRef.startsWith('refs/heads/') && !remote.has(fullRef))
      .map((fullRef) => fullRef.slice('refs/heads/'.length));
    if (mirror.triggerBuilds && deletedBranches.length > 0) {
      const user = await repos.users.findById(mirror.userId);
      if (user?.state === 'active') {
        for (const branch of deletedBranches) {
          await stopBranchEnvironments(coordinator, project, user, branch).catch((error: unknown) => {
            failure = `stopping the environments of deleted branch ${branch}: ${describe(error)}`;
          });
        }
      }
    }
  } catch (error) {
    failure = describe(error);
  }
  const end = coordinator.clock();
  await repos.projectMirrors.release(projectId, node, {
    ...(knownRefs === undefined ? {} : { knownRefs }),
    nextCheckAt: end + intervalMs,
    now: end,
    error: failure,
  });
  return { claimed: true, baseline, pipelines, error: failure };
}

/**
 * The mirror watcher's tick: updates every mirror whose next look has come, a few at a time (a
 * slow remote does not hold the others up). Each look sets the next one an interval later, so the
 * phases given when mirroring was enabled (spread over one interval) stay spread.
 */
export async function watchMirrors(
  coordinator: Coordinator,
  options: {
    concurrency?: number;
    limit?: number;
    onUpdate?: (projectId: number, update: MirrorUpdate) => void;
  } = {},
): Promise<void> {
  const due = await coordinator.repos.projectMirrors.listDue(coordinator.clock(), options.limit ?? 200);
  let next = 0;
  const worker = async () => {
    while (next < due.length) {
      const mirror = due[next++];
      if (!mirror) break;
      const update = await updateMirror(coordinator, mirror.projectId);
      if (update.claimed) options.onUpdate?.(mirror.projectId, update);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 8, due.length) }, worker));
}
