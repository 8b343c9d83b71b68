import { deleteArtifactBytes } from '../artifacts/expire-artifacts.js';
import type { Coordinator } from './coordinator.js';
import { artifactKeysOf } from './delete-project.js';

/**
 * Deletes a pipeline (`DELETE /projects/:id/pipelines/:pipeline_id`) with what GitLab deletes
 * alongside: its jobs with their logs, artifacts and deployments, and the record that a schedule ran it. The audit of the ID
 * tokens its jobs were issued stays (DESIGN 3.3: a token outlives its job). A job still running
 * loses its token at once: its runner's next update is refused.
 */
export async function deletePipeline(coordinator: Coordinator, pipelineId: number): Promise<void> {
  const artifactKeys = await coordinator.store.transaction(async (tx) => {
    const jobIds = tx.selectFrom('jobs').select('id').where('pipelineId', '=', pipelineId);
    const keys = await artifactKeysOf(tx, jobIds);
    await tx.deleteFrom('jobTraces').where('jobId', 'in', jobIds).execute();
    await tx.deleteFrom('deployments').where('jobId', 'in', jobIds).execute();
    await tx.deleteFrom('jobs').where('pipelineId', '=', pipelineId).execute();
    await tx.deleteFrom('pipelineScheduleRuns').where('pipelineId', '=', pipelineId).execute();
    await tx.deleteFrom('pipelines').where('id', '=', pipelineId).execute();
    return keys;
  });
  await deleteArtifactBytes(coordinator, artifactKeys);
}
