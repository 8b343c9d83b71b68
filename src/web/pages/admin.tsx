import type { SigningKeySummary } from '../../keys/keyring.js';
import type { RunnerRecord } from '../../store/repositories/runners.js';
import type { UserRecord } from '../../store/repositories/users.js';
import { CsrfField, Layout, type PageFrame } from './layout.js';
import { Age } from './status-badge.js';

/** A runner counts as online when it asked for a job within this long (GitLab uses two hours). */
export const RUNNER_ONLINE_WINDOW_MS = 2 * 3600 * 1000;

/** Admin: every runner, online or offline from its last contact, with its tags and whether paused. */
export function AdminRunnersPage({
  frame,
  runners,
  now,
}: {
  frame: PageFrame;
  runners: RunnerRecord[];
  now: number;
}) {
  return (
    <Layout frame={frame}>
      <h1>Runners</h1>
      <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Runner</th>
              <th scope="col">Status</th>
              <th scope="col">Tags</th>
              <th scope="col">Paused</th>
              <th scope="col">Last contact</th>
            </tr>
          </thead>
          <tbody>
            {runners.map((runner) => {
              const online =
                runner.contactedAt !== null && now - runner.contactedAt < RUNNER_ONLINE_WINDOW_MS;
              return (
                <tr>
                  <td>
                    #{runner.id} {runner.description}
                  </td>
                  <td>
                    <span class={online ? 'status status-success' : 'status status-skipped'}>
                      {online ? 'online' : 'offline'}
                    </span>
                  </td>
                  <td>{runner.tagList.join(', ') || <span class="muted">untagged</span>}</td>
                  <td>{runner.paused ? 'paused' : 'no'}</td>
                  <td>
                    <Age at={runner.contactedAt} now={now} />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </Layout>
  );
}

/** Admin: every user, their state and whether they administer the instance. */
export function AdminUsersPage({ frame, users }: { frame: PageFrame; users: UserRecord[] }) {
  return (
    <Layout frame={frame}>
      <h1>Users</h1>
      <div class="table-scroll">
        <table>
          <thead>
            <tr>
              <th scope="col">Username</th>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">State</th>
              <th scope="col">Admin</th>
            </tr>
          </thead>
          <tbody>
            {users.map((user) => (
              <tr>
                <td>{user.username}</td>
                <td>{user.name}</td>
                <td>{user.email}</td>
                <td>{user.state}</td>
                <td>{user.isAdmin ? 'yes' : 'no'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Layout>
  );
}

function when(at: number | null): string {
  return at === null ? '–' : new Date(at).toISOString().replace('.000Z', 'Z');
}

/**
 * Admin: the signing keys (state, whether in the JWKS, lifecycle dates) and the two changes an
 * admin makes, each confirmed on the server: rotating (a checkbox) and revoking (typing the kid).
 */
export function AdminKeysPage({
  frame,
  keys,
  notice,
  alert,
}: {
  frame: PageFrame & { csrfToken: string };
  keys: SigningKeySummary[];
  notice?: string;
  alert?: string;
}) {
  return (
    <Layout frame={frame}>
      <h1>Signing keys</h1>
      {notice && (
        <p class="flash-notice" role="status">
          {notice}
        </p>
      )}
      {alert && (
        <p class="flash-alert" role="alert">
          {alert}
        </p>
      )}
      <div class="table-scroll">
        <table class="keys">
          <thead>
            <tr>
              <th scope="col">kid</th>
              <th scope="col">Algorithm</th>
              <th scope="col">State</th>
              <th scope="col">In JWKS</th>
              <th scope="col">Created</th>
              <th scope="col">Signing since</th>
              <th scope="col">Stopped signing</th>
              <th scope="col">Retires after</th>
              <th scope="col">Revoked</th>
              <th scope="col">Revoke</th>
            </tr>
          </thead>
          <tbody>
            {keys.map((key) => (
              <tr>
                <td>
                  <code>{key.kid}</code>
                </td>
                <td>{key.alg}</td>
                <td>{key.state}</td>
                <td>{key.published ? 'yes' : 'no'}</td>
                <td>{when(key.createdAt)}</td>
                <td>{when(key.activatedAt)}</td>
                <td>{when(key.deactivatedAt)}</td>
                <td>{when(key.retireAfter)}</td>
                <td>{when(key.revokedAt)}</td>
                <td>
                  {key.state !== 'retired' && key.revokedAt === null && (
                    <form method="post" action={`/admin/keys/${key.kid}/revoke`} class="actions">
                      <CsrfField token={frame.csrfToken} />
                      <label>
                        Type the kid to confirm
                        <input name="confirm_kid" autocomplete="off" required />
                      </label>
                      <button type="submit" class="danger">
                        Revoke
                      </button>
                    </form>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Rotate</h2>
      <form method="post" action="/admin/keys/rotate" class="form-card">
        <CsrfField token={frame.csrfToken} />
        <label for="rotate_alg">Algorithm</label>
        <select id="rotate_alg" name="alg">
          <option value="RS256">RS256</option>
          <option value="ES256">ES256</option>
        </select>
        <label>
          <input type="checkbox" name="confirm" value="yes" required /> The next key starts signing now; the
          current one stays published until its tokens expire
        </label>
        <label>
          <input type="checkbox" name="force" value="yes" /> Rotate even if the next key was published less
          than the JWKS cache period ago
        </label>
        <p>
          <button type="submit">Rotate signing key</button>
        </p>
      </form>
    </Layout>
  );
}
