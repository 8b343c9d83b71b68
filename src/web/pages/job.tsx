import type { PlannedJob } from '../../pipeline/plan.js';
import type { JobArtifactRecord } from '../../store/repositories/job-artifacts.js';
import type { JobRecord } from '../../store/repositories/jobs.js';
import type { PipelineRecord } from '../../store/repositories/pipelines.js';
import type { ProjectRecord } from '../../store/repositories/projects.js';
import type { IssuedTokenRecord } from '../../token/issued-token-record.js';
import type { LogLine } from '../log-lines.js';
import { CsrfField, Layout, type PageFrame } from './layout.js';
import { LogView } from './log-view.js';
import { ActionButton } from './pipeline.js';
import { ProjectNav } from './project.js';
import { formatDuration } from './status-badge.js';

/** What the job page shows of the log: its lines (the tail of a long log), and where streaming resumes. */
export interface JobLogExcerpt {
  lines: LogLine[];
  offset: number;
  truncated: boolean;
}

/** A byte count as GitLab's job page writes it (`1.5 KiB`). */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * **Run** for a manual job with `manual_confirmation`: the job's text, and a box to tick before the
 * form may be sent (the server refuses a run without it). A plain form, so it works without script
 * and reads in order with a screen reader: message, checkbox (described by the message), button.
 */
function ConfirmedRunForm({
  action,
  message,
  csrfToken,
}: {
  action: string;
  message: string;
  csrfToken: string;
}) {
  return (
    <form method="post" action={action} class="form-card">
      <CsrfField token={csrfToken} />
      <fieldset>
        <legend>This job asks for confirmation before it runs</legend>
        <p id="manual-confirmation">{message}</p>
        <label>
          <input type="checkbox" name="confirm" value="yes" required aria-describedby="manual-confirmation" />{' '}
          Yes, run this job
        </label>
      </fieldset>
      <p>
        <button type="submit">Run</button>
      </p>
    </form>
  );
}

/**
 * The job's artifact files (type, format, size, expiry) and, when the viewer may download it
 * (`artifacts:access`), a link to the archive.
 */
function ArtifactsSection({
  artifacts,
  downloadUrl,
  now,
}: {
  artifacts: JobArtifactRecord[];
  downloadUrl: string | null;
  now: number;
}) {
  // Expired files are gone for the API too (their bytes may still await the sweep).
  const current = artifacts.filter((file) => file.expireAt === null || file.expireAt > now);
  const hasArchive = current.some((file) => file.fileType === 'archive' && file.storeKey !== '');
  return (
    <section aria-labelledby="artifacts-heading">
      <h2 id="artifacts-heading">Job artifacts</h2>
      {current.length === 0 ? (
        <p class="muted">This job has no artifacts (none were uploaded, or they expired).</p>
      ) : (
        <>
          <div class="table-scroll">
            <table class="artifacts">
              <thead>
                <tr>
                  <th scope="col">Type</th>
                  <th scope="col">File</th>
                  <th scope="col">Size</th>
                  <th scope="col">Expires</th>
                </tr>
              </thead>
              <tbody>
                {current.map((file) => (
                  <tr>
                    <td>{file.fileType}</td>
                    <td>
                      <code>{file.fileName}</code> ({file.fileFormat})
                    </td>
                    <td>{formatSize(file.size)}</td>
                    <td>{file.expireAt === null ? 'never' : new Date(file.expireAt).toISOString()}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {hasArchive && downloadUrl && (
            <p>
              <a href={downloadUrl} download>
                Download artifacts
              </a>
            </p>
          )}
        </>
      )}
    </section>
  );
}

/**
 * The job page: status, actions, the log (live while the job runs), the ID tokens issued to it
 * (audience, kid, expiry, jti: never a token) and its variables' names (never their values).
 */
export function JobPage({
  frame,
  project,
  pipeline,
  job,
  log,
  tokens,
  variableNames,
  artifacts,
  canDownloadArtifacts,
  canAct,
  canSeeTokens,
  now,
}: {
  frame: PageFrame & { csrfToken: string };
  project: ProjectRecord;
  pipeline: PipelineRecord;
  job: JobRecord<PlannedJob>;
  /** Who sees the page reads the log too: both follow `ciReadAccess`'s `jobs`. */
  log: JobLogExcerpt;
  /** Null below the Developer role (and for a visitor): the section is left out. */
  tokens: IssuedTokenRecord[] | null;
  /** Null for a visitor who is not signed in: the section is left out. */
  variableNames: string[] | null;
  artifacts: JobArtifactRecord[];
  canDownloadArtifacts: boolean;
  canAct: boolean;
  canSeeTokens: boolean;
  now: number;
}) {
  const base = `/${project.pathWithNamespace}`;
  const jobUrl = `${base}/-/jobs/${job.id}`;
  const live = ['created', 'pending', 'running'].includes(job.status);
  return (
    <Layout frame={frame}>
      <h1>
        {job.name}{' '}
        <span id="job-status" class={`status status-${job.status}`} data-status={job.status}>
          <span aria-hidden="true">●</span>
          {` ${job.status}`}
        </span>
      </h1>
      <ProjectNav project={project} canSeeTokens={canSeeTokens} canPreview={canAct} />
      <dl class="facts">
        <dt>Pipeline</dt>
        <dd>
          <a href={`${base}/-/pipelines/${pipeline.id}`}>#{pipeline.id}</a> ({pipeline.ref})
        </dd>
        <dt>Stage</dt>
        <dd>{job.stage}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(job.startedAt, job.finishedAt, now) || '–'}</dd>
        {job.needs !== null && (
          <>
            <dt>Needs</dt>
            <dd>{job.needs.join(', ') || '[]'}</dd>
          </>
        )}
        {job.failureReason && (
          <>
            <dt>Failure</dt>
            <dd>{job.failureReason}</dd>
          </>
        )}
      </dl>
      {canAct && (
        <div class="actions">
          {['created', 'pending', 'running', 'manual'].includes(job.status) && (
            <ActionButton action={`${jobUrl}/cancel`} label="Cancel" csrfToken={frame.csrfToken} danger />
          )}
          {['success', 'failed', 'canceled'].includes(job.status) && !job.retried && (
            <ActionButton action={`${jobUrl}/retry`} label="Retry" csrfToken={frame.csrfToken} />
          )}
          {job.status === 'manual' && job.spec.manualConfirmation === undefined && (
            <ActionButton action={`${jobUrl}/play`} label="Run" csrfToken={frame.csrfToken} />
          )}
        </div>
      )}
      {canAct && job.status === 'manual' && job.spec.manualConfirmation !== undefined && (
        <ConfirmedRunForm
          action={`${jobUrl}/play`}
          message={job.spec.manualConfirmation}
          csrfToken={frame.csrfToken}
        />
      )}
      <LogView
        lines={log.lines}
        streamUrl={live ? `${jobUrl}/log_stream` : null}
        offset={log.offset}
        truncated={log.truncated}
        rawUrl={`${jobUrl}/raw`}
      />
      <ArtifactsSection
        artifacts={artifacts}
        downloadUrl={canDownloadArtifacts ? `${jobUrl}/artifacts/download` : null}
        now={now}
      />
      {tokens && (
        <section aria-labelledby="tokens-heading">
          <h2 id="tokens-heading">ID tokens</h2>
          {tokens.length === 0 ? (
            <p class="muted">No ID token was issued to this job.</p>
          ) : (
            <div class="table-scroll">
              <table class="job-tokens">
                <thead>
                  <tr>
                    <th scope="col">Audience</th>
                    <th scope="col">kid</th>
                    <th scope="col">Expires</th>
                    <th scope="col">jti</th>
                    <th scope="col">Issued</th>
                  </tr>
                </thead>
                <tbody>
                  {tokens.map((token) => (
                    <tr>
                      <td>{token.aud.join(', ')}</td>
                      <td>
                        <code>{token.kid}</code>
                      </td>
                      <td>{new Date(token.exp * 1000).toISOString()}</td>
                      <td>
                        <code>{token.jti}</code>
                      </td>
                      <td>{token.issuedVia}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      )}
      {variableNames && (
        <section aria-labelledby="variables-heading">
          <h2 id="variables-heading">Variables</h2>
          {variableNames.length === 0 ? (
            <p class="muted">No job variables.</p>
          ) : (
            <ul class="variable-names">
              {variableNames.map((name) => (
                <li>
                  <code>{name}</code>
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
    </Layout>
  );
}
