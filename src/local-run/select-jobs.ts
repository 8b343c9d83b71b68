import { advancePipeline } from '../coordinator/advance-pipeline.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import { TesseraError } from '../errors.js';
import { repositories } from '../store/repositories.js';

/** A job of the created pipeline as the selection sees it. */
export interface SelectableJob {
  readonly name: string;
  /** The job's `needs`, or null when it waits for the earlier stages. */
  readonly needs: readonly string[] | null;
}

/**
 * The jobs `tessera run --job` runs: the named ones and, transitively, what their `needs:` name.
 * A job without `needs:` runs alone (its earlier stages are not pulled in), as gitlab-ci-local's
 * `--needs` does: naming a job means "run this", not "run the pipeline up to here".
 *
 * @throws TesseraError `ERR_LOCAL_RUN_JOB_NOT_FOUND` naming the missing job and listing the pipeline's jobs.
 */
export function selectJobs(jobs: readonly SelectableJob[], names: readonly string[]): Set<string> {
  const byName = new Map(jobs.map((job) => [job.name, job]));
  for (const name of names) {
    if (!byName.has(name)) {
      const known = [...byName.keys()].sort();
      throw new TesseraError(
        'ERR_LOCAL_RUN_JOB_NOT_FOUND',
        `the pipeline has no job "${name}" for this ref (jobs: ${known.join(', ') || 'none'})`,
        { details: { job: name, jobs: known } },
      );
    }
  }
  const selected = new Set<string>();
  const visit = (name: string) => {
    if (selected.has(name)) return;
    const job = byName.get(name);
    // An optional need that rules left out is simply absent.
    if (!job) return;
    selected.add(name);
    for (const need of job.needs ?? []) visit(need);
  };
  for (const name of names) visit(name);
  return selected;
}

/**
 * Narrows a just-created pipeline to `names` (see {@link selectJobs}): every other job becomes
 * `skipped` before any runner sees it, and the pipeline advances as it would after a skip, so a
 * selected job whose earlier stages were left out starts at once. Must run before the runner starts
 * (`tessera run` starts its runner early only when nothing is narrowed).
 * Answers the selected job names.
 */
export async function narrowPipeline(
  coordinator: Coordinator,
  pipelineId: number,
  names: readonly string[],
): Promise<Set<string>> {
  const jobs = await coordinator.repos.jobs.listByPipeline(pipelineId, true);
  const selected = selectJobs(jobs, names);
  const now = coordinator.clock();
  await coordinator.store.transaction(async (tx) => {
    const repos = repositories(tx);
    for (const job of jobs) {
      if (selected.has(job.name)) continue;
      await repos.jobs.transition(job.id, ['created', 'pending', 'manual'], {
        status: 'skipped',
        finishedAt: now,
      });
    }
    await advancePipeline(tx, pipelineId, now);
  });
  return selected;
}
