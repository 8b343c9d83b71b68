import type { Coordinator } from '../coordinator/coordinator.js';
import { playJob } from '../coordinator/job-actions.js';
import { TesseraError } from '../errors.js';
import type { PlannedJob } from '../pipeline/plan.js';
import type { JobRecord, JobState } from '../store/repositories/jobs.js';
import type { PipelineRecord } from '../store/repositories/pipelines.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';

/** A job as a local run shows it. */
export interface JobView
  extends Pick<
    JobRecord,
    | 'id'
    | 'name'
    | 'stage'
    | 'status'
    | 'allowFailure'
    | 'startedAt'
    | 'failureReason'
    | 'exitCode'
    | 'retried'
  > {
  /** Seconds from its start to its end (or to now while it runs); null before it starts. */
  readonly duration: number | null;
}

/**
 * What a local run reads of its pipeline, straight from the embedded coordinator's store in this
 * process. The jobs themselves and the runner still use the coordinator over loopback HTTP; the
 * terminal's follower does not need to, and going through the API cost every look an HTTP round
 * trip, a token check and the GitLab rendering of every job (its user and runner looked up).
 */
export class PipelineView {
  readonly #coordinator: Coordinator;
  readonly #project: ProjectRecord;
  readonly #user: UserRecord;

  /** @param user who plays the manual jobs named with `--job` (the pipeline's user). */
  constructor(coordinator: Coordinator, project: ProjectRecord, user: UserRecord) {
    this.#coordinator = coordinator;
    this.#project = project;
    this.#user = user;
  }

  /** Every attempt of every job of the pipeline (a retried one has `retried`), in creation order. */
  async jobs(pipelineId: number): Promise<JobView[]> {
    const jobs = await this.#coordinator.repos.jobs.listStatesByPipeline(pipelineId);
    return jobs.map((job) => this.#view(job));
  }

  /** A job's log as the coordinator keeps it (already masked by the runner). */
  trace(jobId: number): Promise<string> {
    return this.#coordinator.repos.jobs.readTrace(jobId);
  }

  async pipeline(pipelineId: number): Promise<PipelineRecord> {
    const pipeline = await this.#coordinator.repos.pipelines.findById(pipelineId);
    if (!pipeline) throw new TesseraError('ERR_NOT_FOUND', `pipeline ${pipelineId} not found`);
    return pipeline;
  }

  /** Starts a manual job as the pipeline's user, with the same checks as the API's `play`. */
  async play(jobId: number): Promise<void> {
    await playJob(this.#coordinator, this.#project, this.#user, await this.#find(jobId));
  }

  async #find(jobId: number): Promise<JobRecord<PlannedJob>> {
    const job = await this.#coordinator.repos.jobs.findById<PlannedJob>(jobId);
    if (!job || job.projectId !== this.#project.id)
      throw new TesseraError('ERR_NOT_FOUND', `job ${jobId} not found`);
    return job;
  }

  #view(job: JobState): JobView {
    const end = job.finishedAt ?? (job.startedAt === null ? null : this.#coordinator.clock());
    return { ...job, duration: job.startedAt === null || end === null ? null : (end - job.startedAt) / 1000 };
  }
}
