import { expandVariables } from '../pipeline/expand-variables.js';
import type { PlannedJob } from '../pipeline/plan.js';
import { buildRuleVariables } from '../pipeline/rule-variables.js';
import type { Db } from '../store/open-store.js';
import type { JobRecord } from '../store/repositories/jobs.js';
import { repositories } from '../store/repositories.js';

/**
 * Records the release of a job with `release:` that has just succeeded (Tessera records it rather
 * than running GitLab's release-cli): its texts with the predefined, pipeline and job variables
 * expanded, pointing at `ref` (default: the pipeline's commit). A tag that already has a release
 * keeps the first one; the job's log says so. Answers the line for the job's log.
 */
export async function recordRelease(db: Db, job: JobRecord<PlannedJob>, now: number): Promise<string | null> {
  const release = job.spec.release;
  if (release == null) return null;
  const repos = repositories(db);
  const pipeline = await repos.pipelines.findById(job.pipelineId);
  const project = await repos.projects.findById(job.projectId);
  if (!pipeline || !project) return null;
  const variables = {
    ...buildRuleVariables({
      ref: pipeline.ref,
      tag: pipeline.refType === 'tag',
      source: 'push',
      sha: pipeline.sha,
      projectPath: project.pathWithNamespace,
      projectId: String(project.id),
      defaultBranch: project.defaultBranch,
      pipelineId: String(pipeline.id),
    }),
    CI_JOB_ID: String(job.id),
    ...pipeline.variables,
    ...job.spec.variables,
  };
  const expand = (text: string) => expandVariables(text, variables);
  const tagName = expand(release.tagName);
  if (tagName.trim() === '')
    return 'release: tag_name is empty after expanding its variables; nothing recorded';
  const releasedAt = release.releasedAt === null ? now : Date.parse(expand(release.releasedAt));
  const inserted = await db
    .insertInto('releases')
    .values({
      projectId: project.id,
      tagName,
      name: expand(release.name ?? tagName),
      description: expand(release.description ?? ''),
      sha: release.ref === null ? pipeline.sha : expand(release.ref),
      jobId: job.id,
      userId: job.userId,
      links: JSON.stringify(
        release.links.map((link) => ({
          name: expand(link.name),
          url: expand(link.url),
          link_type: link.linkType,
          direct_asset_path: link.directAssetPath === null ? null : expand(link.directAssetPath),
        })),
      ),
      milestones: JSON.stringify(release.milestones.map(expand)),
      releasedAt: Number.isNaN(releasedAt) ? now : releasedAt,
      createdAt: now,
    })
    .onConflict((conflict) => conflict.columns(['projectId', 'tagName']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted === undefined
    ? `release: ${tagName} already has a release; the first one is kept`
    : `release: recorded release ${tagName}`;
}
