import type { ProjectRecord } from '../../store/repositories/projects.js';
import type { IssuedTokenRecord } from '../../token/issued-token-record.js';
import { Layout, type PageFrame } from './layout.js';
import { ProjectNav } from './project.js';

/** The filters the audit page takes from its query string. */
export interface AuditFilter {
  aud?: string;
  sub?: string;
  kid?: string;
  job?: string;
  via?: string;
}

/** Whether an audit record passes every filter that is set (substring match, as a search box). */
export function matchesAuditFilter(record: IssuedTokenRecord, filter: AuditFilter): boolean {
  const has = (value: string, wanted: string | undefined) => !wanted || value.includes(wanted);
  return (
    has(record.aud.join(' '), filter.aud) &&
    has(record.sub, filter.sub) &&
    has(record.kid, filter.kid) &&
    (!filter.job || String(record.jobId) === filter.job) &&
    (!filter.via || record.issuedVia === filter.via)
  );
}

/** The ID-token audit of a project: who (which job), audience, `sub`, `kid`, times, how issued. */
export function IdTokensPage({
  frame,
  project,
  records,
  filter,
}: {
  frame: PageFrame;
  project: ProjectRecord;
  records: IssuedTokenRecord[];
  filter: AuditFilter;
}) {
  const base = `/${project.pathWithNamespace}`;
  return (
    <Layout frame={frame}>
      <h1>ID tokens of {project.pathWithNamespace}</h1>
      <ProjectNav project={project} canSeeTokens />
      <form method="get" action={`${base}/-/id_tokens`} class="actions" aria-label="Filter">
        <label>
          Audience <input name="aud" value={filter.aud ?? ''} />
        </label>
        <label>
          Subject <input name="sub" value={filter.sub ?? ''} />
        </label>
        <label>
          Key ID <input name="kid" value={filter.kid ?? ''} />
        </label>
        <label>
          Job <input name="job" inputmode="numeric" value={filter.job ?? ''} />
        </label>
        <label>
          Issued
          <select name="via">
            <option value="">any way</option>
            <option value="pre-issued" selected={filter.via === 'pre-issued'}>
              pre-issued
            </option>
            <option value="on-demand" selected={filter.via === 'on-demand'}>
              on-demand
            </option>
          </select>
        </label>
        <button type="submit">Filter</button>
      </form>
      <div class="table-scroll">
        <table class="audit">
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Audience</th>
              <th scope="col">sub</th>
              <th scope="col">kid</th>
              <th scope="col">Issued at</th>
              <th scope="col">Expires at</th>
              <th scope="col">How</th>
              <th scope="col">jti</th>
            </tr>
          </thead>
          <tbody>
            {records.map((record) => (
              <tr>
                <td>
                  <a href={`${base}/-/jobs/${record.jobId}`}>{record.jobId}</a>
                </td>
                <td>{record.aud.join(', ')}</td>
                <td>
                  <code>{record.sub}</code>
                </td>
                <td>
                  <code>{record.kid}</code>
                </td>
                <td>{new Date(record.iat * 1000).toISOString()}</td>
                <td>{new Date(record.exp * 1000).toISOString()}</td>
                <td>{record.issuedVia}</td>
                <td>
                  <code>{record.jti}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {records.length === 0 && <p class="muted">No ID token matches.</p>}
    </Layout>
  );
}
