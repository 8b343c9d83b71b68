import type { Coordinator } from '../coordinator/coordinator.js';

/** Rows removed per round of the sweeper. */
const BATCH = 500;

/**
 * The sweeper: removes the bytes of every artifact file whose `expire_at` has passed (the row is
 * marked first, so a download never finds a row without bytes for long), in rounds of {@link BATCH}.
 * Answers how many it removed. Safe on several nodes at once: each row is deleted once.
 */
export async function expireArtifacts(coordinator: Coordinator): Promise<number> {
  let removed = 0;
  for (;;) {
    const keys = await coordinator.repos.jobArtifacts.sweepExpired(coordinator.clock(), BATCH);
    for (const key of keys) await coordinator.artifactStore.delete(key).catch(() => undefined);
    removed += keys.length;
    if (keys.length < BATCH) return removed;
  }
}

/** Removes every artifact file of a job (`DELETE /projects/:id/jobs/:job_id/artifacts`). */
export async function deleteJobArtifacts(coordinator: Coordinator, jobId: number): Promise<number> {
  const keys = await coordinator.repos.jobArtifacts.deleteByJob(jobId);
  await deleteArtifactBytes(coordinator, keys);
  return keys.length;
}

/**
 * Deletes the bytes of artifact files whose rows are gone (a job, pipeline or project deleted).
 * Never fails: bytes a failure leaves behind are unreachable, not wrong.
 */
export async function deleteArtifactBytes(coordinator: Coordinator, keys: readonly string[]): Promise<void> {
  for (const key of keys) await coordinator.artifactStore.delete(key).catch(() => undefined);
}
