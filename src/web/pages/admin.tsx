import type { RunnerRecord } from '../../store/repositories/runners.js';
import type { UserRecord } from '../../store/repositories/users.js';
import { Layout, type PageFrame } from './layout.js';
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
