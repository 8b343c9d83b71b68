import type { PipelineRecord } from '../../store/repositories/pipelines.js';
import type { ProjectRecord } from '../../store/repositories/projects.js';
import type { UserRecord } from '../../store/repositories/users.js';
import { CsrfField, Layout, type PageFrame } from './layout.js';
import { Age, formatDuration, StatusBadge } from './status-badge.js';

/** Links shared by every page of a project. */
export function ProjectNav({
  project,
  canSeeTokens,
  canPreview = canSeeTokens,
}: {
  project: ProjectRecord;
  canSeeTokens: boolean;
  canPreview?: boolean;
}) {
  const base = `/${project.pathWithNamespace}`;
  return (
    <nav aria-label="Project" class="actions">
      <a href={base}>Pipelines</a>
      {canSeeTokens && <a href={`${base}/-/id_tokens`}>ID tokens</a>}
      {canPreview && <a href={`${base}/-/id_tokens/preview`}>Claim preview</a>}
    </nav>
  );
}

/**
 * The project page: its pipelines, newest first, paginated, and the form to run one; or, for
 * whoever may not read the project's jobs (its `public_jobs` is off), a line saying who may.
 */
export function ProjectPage({
  frame,
  project,
  pipelines,
  users,
  page,
  hasNext,
  canRun,
  canSeeTokens,
  now,
}: {
  frame: PageFrame & { csrfToken: string };
  project: ProjectRecord;
  /** Null: the list is not the reader's to see (GitLab answers its pipelines page with a 404). */
  pipelines: PipelineRecord[] | null;
  users: ReadonlyMap<number, UserRecord>;
  page: number;
  hasNext: boolean;
  canRun: boolean;
  canSeeTokens: boolean;
  now: number;
}) {
  const base = `/${project.pathWithNamespace}`;
  return (
    <Layout frame={frame}>
      <h1>{project.pathWithNamespace}</h1>
      <ProjectNav project={project} canSeeTokens={canSeeTokens} canPreview={canRun} />
      {canRun && (
        <details class="run-pipeline">
          <summary>Run pipeline</summary>
          <form method="post" action={`${base}/-/pipelines`} class="form-card">
            <CsrfField token={frame.csrfToken} />
            <label for="pipeline_ref">Run for branch or tag</label>
            <input id="pipeline_ref" name="ref" required value={project.defaultBranch} />
            <label for="pipeline_variables">Variables (one KEY=value per line)</label>
            <textarea id="pipeline_variables" name="variables" rows={3} />
            <p>
              <button type="submit">Run pipeline</button>
            </p>
          </form>
        </details>
      )}
      <h2>Pipelines</h2>
      {pipelines === null ? (
        <p class="muted" id="pipelines-hidden">
          This project's pipelines and jobs are visible to its members with the Reporter role or higher.
        </p>
      ) : pipelines.length === 0 ? (
        <p class="muted">No pipelines yet.</p>
      ) : (
        <div class="table-scroll">
          <table class="pipelines">
            <thead>
              <tr>
                <th scope="col">Status</th>
                <th scope="col">Pipeline</th>
                <th scope="col">Ref</th>
                <th scope="col" class="hide-narrow">
                  Commit
                </th>
                <th scope="col" class="hide-narrow">
                  Source
                </th>
                <th scope="col" class="hide-narrow">
                  User
                </th>
                <th scope="col">Duration</th>
                <th scope="col" class="hide-narrow">
                  Created
                </th>
              </tr>
            </thead>
            <tbody>
              {pipelines.map((pipeline) => (
                <tr>
                  <td>
                    <StatusBadge status={pipeline.status} />
                  </td>
                  <td>
                    <a href={`${base}/-/pipelines/${pipeline.id}`}>#{pipeline.id}</a>
                  </td>
                  <td>{pipeline.ref}</td>
                  <td class="hide-narrow">
                    <code>{pipeline.sha.slice(0, 8)}</code>
                  </td>
                  <td class="hide-narrow">{pipeline.source}</td>
                  <td class="hide-narrow">
                    {pipeline.userId === null ? '' : (users.get(pipeline.userId)?.username ?? '')}
                  </td>
                  <td>{formatDuration(pipeline.startedAt, pipeline.finishedAt, now)}</td>
                  <td class="hide-narrow">
                    <Age at={pipeline.createdAt} now={now} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pagination" aria-label="Pages">
        {page > 1 && <a href={`${base}/-/pipelines?page=${page - 1}`}>Previous page</a>}
        {hasNext && <a href={`${base}/-/pipelines?page=${page + 1}`}>Next page</a>}
      </nav>
    </Layout>
  );
}
