import { ACCESS_LEVELS } from '../coordinator/access-level.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import { projectAccessLevel } from '../coordinator/permissions.js';
import type { PlannedCrossNeed, PlannedJob } from '../pipeline/plan.js';
import type { JobRecord, JobState } from '../store/repositories/jobs.js';
import type { ProjectRecord } from '../store/repositories/projects.js';

/** How many of a project's newest pipelines `needs:project` looks through for a successful job. */
const PIPELINES_SEARCHED = 100;

/**
 * A `needs:project` or `needs:pipeline` entry that names no job the pipeline's user may download
 * from: the job cannot start (GitLab fails it with `missing_dependency_failure`).
 */
export class CrossDependencyError extends Error {}

function describeNeed(need: PlannedCrossNeed): string {
  return need.source === 'project'
    ? `needs:project ${need.from} job "${need.job}" on ref "${need.ref}"`
    : `needs:pipeline ${need.from} job "${need.job}"`;
}

/**
 * The jobs outside its own pipeline whose artifacts `job` downloads, one per `needs:project`
 * entry (the latest successful job of that name on that ref of that project, on this instance)
 * and per `needs:pipeline` entry (the latest attempt of that name in that pipeline, successful).
 * Each is read as the user who started the job's pipeline: a project they cannot read as a
 * reporter (admins read all) is as absent as one that does not exist, so a pipeline learns nothing
 * of projects its user cannot see.
 *
 * @throws CrossDependencyError naming the entry that found no such job.
 */
export async function crossDependencies(
  coordinator: Coordinator,
  job: Pick<JobRecord<PlannedJob>, 'pipelineId' | 'projectId' | 'spec'>,
): Promise<JobState[]> {
  const needs = job.spec.crossNeeds ?? [];
  if (needs.length === 0) return [];
  const own = await coordinator.repos.pipelines.findById(job.pipelineId);
  const user =
    own?.userId === null || own?.userId === undefined
      ? undefined
      : await coordinator.repos.users.findById(own.userId);
  const readable = async (project: ProjectRecord | undefined): Promise<boolean> => {
    if (project === undefined) return false;
    if (project.id === job.projectId) return true;
    if (user === undefined || user.state !== 'active') return false;
    if (user.isAdmin) return true;
    return ((await projectAccessLevel(coordinator, user.id, project)) ?? 0) >= ACCESS_LEVELS.reporter;
  };
  const found: JobState[] = [];
  for (const need of needs) {
    const source = await resolveNeed(coordinator, need, readable);
    if (source === undefined)
      throw new CrossDependencyError(
        `${describeNeed(need)}: no successful job of that name that this pipeline's user may read (check the name, the ref, and the user's access to the project)`,
      );
    if (!found.some((other) => other.id === source.id)) found.push(source);
  }
  return found;
}

async function resolveNeed(
  coordinator: Coordinator,
  need: PlannedCrossNeed,
  readable: (project: ProjectRecord | undefined) => Promise<boolean>,
): Promise<JobState | undefined> {
  const { pipelines, projects, jobs } = coordinator.repos;
  const named = async (pipelineId: number) =>
    (await jobs.listStatesByPipeline(pipelineId, true)).find(
      (candidate) => candidate.name === need.job && candidate.status === 'success',
    );
  if (need.source === 'pipeline') {
    if (!/^\d+$/.test(need.from) || Number(need.from) > 2147483647) return undefined;
    const pipeline = await pipelines.findById(Number(need.from));
    if (pipeline === undefined) return undefined;
    if (!(await readable(await projects.findById(pipeline.projectId)))) return undefined;
    return named(pipeline.id);
  }
  const project = /^\d+$/.test(need.from)
    ? Number(need.from) <= 2147483647
      ? await projects.findById(Number(need.from))
      : undefined
    : await projects.findByPath(need.from);
  if (project === undefined || !(await readable(project))) return undefined;
  for (const pipeline of await pipelines.listByProject(project.id, PIPELINES_SEARCHED)) {
    if (pipeline.ref !== need.ref) continue;
    const source = await named(pipeline.id);
    if (source) return source;
  }
  return undefined;
}
