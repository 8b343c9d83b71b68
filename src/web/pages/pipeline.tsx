import type { JobState } from '../../store/repositories/jobs.js';
import type { PipelineRecord } from '../../store/repositories/pipelines.js';
import type { ProjectRecord } from '../../store/repositories/projects.js';
import { CsrfField, Layout, type PageFrame } from './layout.js';
import { ProjectNav } from './project.js';
import { Age, formatDuration, StatusBadge } from './status-badge.js';

/** A POST button for an action (cancel, retry, play), with the CSRF field. */
export function ActionButton({
  action,
  label,
  csrfToken,
  danger,
}: {
  action: string;
  label: string;
  csrfToken: string;
  danger?: boolean;
}) {
  return (
    <form method="post" action={action}>
      <CsrfField token={csrfToken} />
      <button type="submit" class={danger ? 'danger' : undefined}>
        {label}
      </button>
    </form>
  );
}

/** The pipeline page: jobs by stage with status, duration and `needs:`, and cancel/retry. */
export function PipelinePage({
  frame,
  project,
  pipeline,
  jobs,
  downstream = [],
  upstream,
  canAct,
  canSeeTokens,
  linkJobs = true,
  now,
}: {
  frame: PageFrame & { csrfToken: string };
  project: ProjectRecord;
  pipeline: PipelineRecord;
  jobs: JobState[];
  /** Pipelines this pipeline's trigger jobs created. */
  downstream?: PipelineRecord[];
  /** The pipeline whose trigger job created this one. */
  upstream?: PipelineRecord;
  canAct: boolean;
  canSeeTokens: boolean;
  /** False for whoever may not read the jobs (`public_jobs` off): names and statuses, no job links. */
  linkJobs?: boolean;
  now: number;
}) {
  const base = `/${project.pathWithNamespace}`;
  const stages = new Map<string, JobState[]>();
  for (const job of [...jobs].sort((a, b) => a.stageIndex - b.stageIndex || a.id - b.id)) {
    const list = stages.get(job.stage) ?? [];
    list.push(job);
    stages.set(job.stage, list);
  }
  const childOf = new Map(downstream.map((child) => [child.sourceJobId, child]));
  const pipelineLink = (other: PipelineRecord) =>
    other.projectId === project.id ? (
      <a href={`${base}/-/pipelines/${other.id}`}>pipeline #{other.id}</a>
    ) : (
      <span>a pipeline of another project</span>
    );
  const unfinished = jobs.some((job) => ['created', 'pending', 'running', 'manual'].includes(job.status));
  const retryable = jobs.some((job) => job.status === 'failed' || job.status === 'canceled');
  return (
    <Layout frame={frame}>
      <h1>
        Pipeline #{pipeline.id} <StatusBadge status={pipeline.status} />
      </h1>
      <ProjectNav project={project} canSeeTokens={canSeeTokens} canPreview={canAct} />
      <dl class="facts">
        <dt>Ref</dt>
        <dd>{pipeline.ref}</dd>
        <dt>Commit</dt>
        <dd>
          <code>{pipeline.sha}</code>
        </dd>
        <dt>Source</dt>
        <dd>{pipeline.source}</dd>
        <dt>Created</dt>
        <dd>
          <Age at={pipeline.createdAt} now={now} />
        </dd>
        <dt>Duration</dt>
        <dd>{formatDuration(pipeline.startedAt, pipeline.finishedAt, now) || '–'}</dd>
        {upstream && (
          <>
            <dt>Triggered by</dt>
            <dd>{pipelineLink(upstream)}</dd>
          </>
        )}
      </dl>
      {canAct && (
        <div class="actions">
          {unfinished && (
            <ActionButton
              action={`${base}/-/pipelines/${pipeline.id}/cancel`}
              label="Cancel pipeline"
              csrfToken={frame.csrfToken}
              danger
            />
          )}
          {retryable && (
            <ActionButton
              action={`${base}/-/pipelines/${pipeline.id}/retry`}
              label="Retry failed jobs"
              csrfToken={frame.csrfToken}
            />
          )}
        </div>
      )}
      <div class="stages">
        {[...stages].map(([stage, stageJobs]) => (
          <section class="stage" aria-label={`Stage ${stage}`}>
            <h2>{stage}</h2>
            <ul>
              {stageJobs.map((job) => (
                <li>
                  <StatusBadge status={job.status} />{' '}
                  {linkJobs ? <a href={`${base}/-/jobs/${job.id}`}>{job.name}</a> : <span>{job.name}</span>}{' '}
                  <span class="muted">{formatDuration(job.startedAt, job.finishedAt, now)}</span>
                  {childOf.has(job.id) && (
                    <div class="needs">
                      downstream: {pipelineLink(childOf.get(job.id) as PipelineRecord)}{' '}
                      <StatusBadge status={(childOf.get(job.id) as PipelineRecord).status} />
                    </div>
                  )}
                  {job.needs !== null && (
                    <div class="needs">needs: {job.needs.length === 0 ? '[]' : job.needs.join(', ')}</div>
                  )}
                </li>
              ))}
            </ul>
          </section>
        ))}
      </div>
    </Layout>
  );
}
