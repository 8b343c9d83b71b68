import type { Coordinator } from '../coordinator/coordinator.js';
import type { PlannedJob } from '../pipeline/plan.js';
import type { JobRecord, JobState } from '../store/repositories/jobs.js';

/**
 * The jobs whose artifacts `job` downloads, as GitLab: the latest attempt of each job named by
 * `dependencies:` (else by `needs:` without `artifacts: false`), or, when neither is written,
 * of every job in an earlier stage of the same pipeline.
 */
export async function artifactDependencies(
  coordinator: Coordinator,
  job: Pick<JobRecord<PlannedJob>, 'pipelineId' | 'stageIndex' | 'spec' | 'id'>,
): Promise<JobState[]> {
  // Specs stored before artifacts existed have no artifactsFrom: every earlier stage, as GitLab.
  const from = job.spec.artifactsFrom ?? null;
  return coordinator.repos.jobs.listStatesForDependencies(
    job.pipelineId,
    job.id,
    from === null ? { beforeStage: job.stageIndex } : { names: from },
  );
}
