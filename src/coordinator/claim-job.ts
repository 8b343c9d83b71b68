import type { PlannedJob } from '../pipeline/plan.js';
import type { JobState } from '../store/repositories/jobs.js';
import type { RunnerRecord } from '../store/repositories/runners.js';
import { repositories } from '../store/repositories.js';
import { advancePipeline } from './advance-pipeline.js';
import type { Coordinator } from './coordinator.js';
import { finishJob } from './finish-job.js';
import { buildJobPayload, type JobPayload, JobPreparationError } from './job-payload.js';
import { promoteScheduledJobs } from './promote-scheduled-jobs.js';
import { claimableByResourceGroup, resourceGroupFree } from './resource-groups.js';
import { generateSecret, TOKEN_PREFIXES } from './secret-token.js';
import { loadJobRecords } from './token-context.js';

const CANDIDATES = 100;

/**
 * Puts a job just claimed back in the queue, when the runner that asked for it hung up before the
 * answer could be sent (it would otherwise wait for its lease to expire). Tokens minted for it are
 * never delivered; their audit rows stay.
 */
export async function releaseClaim(coordinator: Coordinator, jobId: number): Promise<void> {
  const now = coordinator.clock();
  await coordinator.store.transaction(async (tx) => {
    const released = await repositories(tx).jobs.transition(jobId, ['running'], {
      status: 'pending',
      runnerId: null,
      startedAt: null,
      tokenHash: null,
      requestTokenHash: null,
      leaseExpiresAt: null,
    });
    if (released) await advancePipeline(tx, (await repositories(tx).jobs.findById(jobId))!.pipelineId, now);
  });
  coordinator.notifyJobs();
}

/**
 * Whether `runner` may take `job`: not paused, its scope (instance, group tree, project), tags,
 * `run_untagged`, and its `access_level` (a `ref_protected` runner takes only jobs of pipelines
 * on protected refs, so a branch anyone may push never reaches a deploy runner).
 */
async function eligible(
  runner: RunnerRecord,
  job: JobState,
  groupsOf: (projectId: number) => Promise<number[]>,
  refProtected: (pipelineId: number) => Promise<boolean>,
): Promise<boolean> {
  if (runner.paused) return false;
  if (job.tags.length === 0 ? !runner.runUntagged : !job.tags.every((tag) => runner.tagList.includes(tag)))
    return false;
  if (runner.accessLevel === 'ref_protected' && !(await refProtected(job.pipelineId))) return false;
  if (runner.runnerType === 'project_type') return job.projectId === runner.projectId;
  if (runner.runnerType === 'group_type')
    return runner.groupId !== null && (await groupsOf(job.projectId)).includes(runner.groupId);
  return true;
}

/**
 * Claims the oldest pending job `runner` may run and answers its payload, or null when there is
 * none. The claim is a compare-and-set from `pending` to `running` inside a transaction (with
 * `FOR UPDATE SKIP LOCKED` on PostgreSQL), so no job is ever handed out twice, even to runners
 * polling different coordinator nodes at the same moment. The job token and on-demand request
 * token are generated here and stored only as hashes; ID tokens are minted after the claim, when
 * the runner and the timeout are fixed.
 */
export async function claimJob(coordinator: Coordinator, asking: RunnerRecord): Promise<JobPayload | null> {
  let runner = asking;
  const protectedCache = new Map<number, boolean>();
  const refProtected = async (pipelineId: number) => {
    let value = protectedCache.get(pipelineId);
    if (value === undefined) {
      value = (await coordinator.repos.pipelines.findById(pipelineId))?.refProtected === true;
      protectedCache.set(pipelineId, value);
    }
    return value;
  };
  const groupCache = new Map<number, number[]>();
  const groupsOf = async (projectId: number) => {
    let groups = groupCache.get(projectId);
    if (!groups) {
      const project = await coordinator.repos.projects.findById(projectId);
      groups = project
        ? (await coordinator.repos.groups.lineage(project.namespaceId)).map((group) => group.id)
        : [];
      groupCache.set(projectId, groups);
    }
    return groups;
  };
  const refused = new Set<number>();
  await promoteScheduledJobs(coordinator);
  // Bounded: each round either claims, finds nothing, or lost every candidate to another claimer.
  for (let round = 0; round < 50; round++) {
    const pending = await coordinator.repos.jobs.listPending(CANDIDATES);
    if (pending.length === 0) return null;
    // A long poll lasts up to jobRequestWait: a pause, a new access level or a deletion since it
    // began counts from now on.
    const current = await coordinator.repos.runners.findById(runner.id);
    if (!current) return null;
    runner = current;
    const eligibleJobs: JobState[] = [];
    for (const job of pending) {
      if (!refused.has(job.id) && (await eligible(runner, job, groupsOf, refProtected)))
        eligibleJobs.push(job);
    }
    // resource_group: a group with a running job holds its other jobs back.
    const candidates = await claimableByResourceGroup(coordinator.store.db, eligibleJobs);
    if (candidates.length === 0) return null;
    const jobToken = generateSecret(TOKEN_PREFIXES.job);
    const requestToken = generateSecret(TOKEN_PREFIXES.idTokenRequest);
    const now = coordinator.clock();
    const claimed = await coordinator.store.transaction(async (tx) => {
      const repos = repositories(tx);
      const locked = await repos.runners.lock(runner.id, 'claim', coordinator.store.dialect);
      if (!locked || locked.paused) return null;
      const id = await repos.jobs.lockOldestPending(candidates, coordinator.store.dialect);
      if (id === undefined) return undefined;
      const job = await repos.jobs.findById<PlannedJob>(id);
      if (!job) return undefined;
      if (!(await resourceGroupFree(tx, id))) {
        refused.add(id);
        return undefined;
      }
      const timeoutSeconds =
        runner.maximumTimeout === null
          ? job.timeoutSeconds
          : Math.min(job.timeoutSeconds, runner.maximumTimeout);
      const won = await repos.jobs.transition(id, ['pending'], {
        status: 'running',
        runnerId: runner.id,
        startedAt: now,
        tokenHash: jobToken.hash,
        requestTokenHash: requestToken.hash,
        timeoutSeconds,
        leaseExpiresAt: now + coordinator.config.leaseTimeout * 1000,
      });
      if (!won) return undefined;
      await advancePipeline(tx, job.pipelineId, now);
      return { ...job, status: 'running' as const, runnerId: runner.id, startedAt: now, timeoutSeconds };
    });
    // The runner was paused or deleted meanwhile.
    if (claimed === null) return null;
    // Every candidate was taken by someone else between the read and the lock: look again.
    if (!claimed) continue;
    coordinator.counters.jobsClaimed += 1;
    try {
      const records = await loadJobRecords(coordinator, claimed);
      return await buildJobPayload(
        coordinator,
        records,
        runner,
        { jobToken: jobToken.value, requestToken: requestToken.value },
        now,
      );
    } catch (error) {
      if (!(error instanceof JobPreparationError)) throw error;
      refused.add(claimed.id);
      await coordinator.repos.jobs.appendTrace(
        claimed.id,
        `ERROR: Job failed before it started: ${error.message}\n`,
      );
      await finishJob(coordinator, claimed.id, { status: 'failed', failureReason: error.failureReason });
    }
  }
  return null;
}
