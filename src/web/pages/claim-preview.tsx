import type { ClaimPreview } from '../../coordinator/preview-claims.js';
import type { ProjectRecord } from '../../store/repositories/projects.js';
import type { VaultRoleVerdict } from '../../verify/vault-role.js';
import { CsrfField, Layout, type PageFrame } from './layout.js';
import { ProjectNav } from './project.js';

/** What the preview form was filled with (shown again with the answer). */
export interface ClaimPreviewForm {
  ref: string;
  job: string;
  aud: string;
  jobDefinition: string;
  role: string;
}

function claimText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * The claim preview: the exact claims a job's ID tokens would carry (nothing minted), and, with
 * a pasted Vault JWT role, claim by claim whether that role would accept the token and why not.
 */
export function ClaimPreviewPage({
  frame,
  project,
  form,
  preview,
  verdicts,
  error,
}: {
  frame: PageFrame & { csrfToken: string };
  project: ProjectRecord;
  form: ClaimPreviewForm;
  preview?: ClaimPreview;
  verdicts?: VaultRoleVerdict[];
  error?: string;
}) {
  const base = `/${project.pathWithNamespace}`;
  return (
    <Layout frame={frame}>
      <h1>Claim preview</h1>
      <ProjectNav project={project} canSeeTokens />
      <p class="muted">
        The claims a job's ID token would carry if you ran a pipeline now; nothing is minted. Paste a Vault
        JWT role (<code>vault read -format=json auth/jwt/role/NAME</code>) to see whether it would accept the
        token.
      </p>
      <form method="post" action={`${base}/-/id_tokens/preview`} class="form-card">
        <CsrfField token={frame.csrfToken} />
        <label for="preview_ref">Branch or tag</label>
        <input id="preview_ref" name="ref" required value={form.ref} />
        <label for="preview_job">Job</label>
        <input id="preview_job" name="job" value={form.job} />
        <label for="preview_aud">Audience (default: the job's id_tokens)</label>
        <input id="preview_aud" name="aud" value={form.aud} />
        <label for="preview_definition">Job definition (optional, instead of the repository's)</label>
        <textarea id="preview_definition" name="job_definition" rows={3} value={form.jobDefinition} />
        <label for="preview_role">Vault role JSON (optional)</label>
        <textarea id="preview_role" name="role" rows={4} value={form.role} />
        <p>
          <button type="submit">Preview claims</button>
        </p>
      </form>
      {error && (
        <p class="flash-alert" role="alert">
          {error}
        </p>
      )}
      {preview?.tokens.map((token, index) => {
        const verdict = verdicts?.[index];
        return (
          <section class="preview-token" aria-label={`Token ${token.name ?? 'for the given audience'}`}>
            <h2>
              {token.name ?? 'Token'} for job {preview.job} at {preview.ref}
            </h2>
            {token.refusal && <p class="verdict-bad">The coordinator would refuse it: {token.refusal}</p>}
            {verdict && (
              <p class={verdict.accepted ? 'verdict-ok vault-verdict' : 'verdict-bad vault-verdict'}>
                {verdict.accepted
                  ? 'The Vault role would accept this token.'
                  : 'The Vault role would refuse this token.'}
              </p>
            )}
            {verdict && (
              <div class="table-scroll">
                <table class="role-checks">
                  <thead>
                    <tr>
                      <th scope="col">Check</th>
                      <th scope="col">Claim</th>
                      <th scope="col">Token has</th>
                      <th scope="col">Role wants</th>
                      <th scope="col">Result</th>
                    </tr>
                  </thead>
                  <tbody>
                    {verdict.checks.map((check) => (
                      <tr class={check.ok ? 'check-ok' : 'check-failed'}>
                        <td>{check.check}</td>
                        <td>
                          <code>{check.claim}</code>
                        </td>
                        <td class="claims">
                          {check.actual === null ? '(missing)' : check.actual.join(', ')}
                        </td>
                        <td class="claims">{check.expected.join(', ')}</td>
                        <td class={check.ok ? 'verdict-ok' : 'verdict-bad'}>
                          {check.ok ? 'ok' : check.reason}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            <div class="table-scroll">
              <table class="claims-table">
                <thead>
                  <tr>
                    <th scope="col">Claim</th>
                    <th scope="col">Value</th>
                  </tr>
                </thead>
                <tbody>
                  {Object.entries(token.claims).map(([name, value]) => (
                    <tr>
                      <td>
                        <code>{name}</code>
                      </td>
                      <td class="claims">
                        {claimText(value)}
                        {preview.placeholders.includes(name) && (
                          <span class="muted"> (set when the job runs)</span>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        );
      })}
    </Layout>
  );
}
