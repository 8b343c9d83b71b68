import type { TestCoordinator } from '../server/harness.js';

/** A group, a project on `repositoryUrl` and a developer and a maintainer with their tokens. */
export interface ProjectFixture {
  groupId: number;
  projectId: number;
  developer: { id: number; token: string };
  maintainer: { id: number; token: string };
}

/** A new user `username` with a personal access token of scope `api`. */
export async function userWithToken(
  c: TestCoordinator,
  username: string,
): Promise<{ id: number; token: string }> {
  const user = await c.api('POST', '/api/v4/users', {
    body: { username, email: `${username}@example.com`, name: username },
  });
  const token = await c.api('POST', `/api/v4/users/${user.body.id}/personal_access_tokens`, {
    body: { name: 't', scopes: ['api'] },
  });
  return { id: user.body.id, token: token.body.token };
}

/** Sets up `acme/<path>` on `repositoryUrl` with a developer and a maintainer (group members). */
export async function setUpProject(
  c: TestCoordinator,
  repositoryUrl: string,
  options: { path?: string; body?: Record<string, unknown> } = {},
): Promise<ProjectFixture> {
  const group = await c.api('POST', '/api/v4/groups', { body: { name: 'Acme', path: 'acme' } });
  const groupId: number = group.body.id ?? (await c.api('GET', '/api/v4/groups')).body[0].id;
  const project = await c.api('POST', '/api/v4/projects', {
    body: {
      name: options.path ?? 'app',
      path: options.path ?? 'app',
      namespace_id: groupId,
      repository_url: repositoryUrl,
      ...options.body,
    },
  });
  if (project.status !== 201) throw new Error(`project: ${project.text}`);
  const suffix = options.path ?? 'app';
  const developer = await userWithToken(c, `dev-${suffix}`);
  const maintainer = await userWithToken(c, `maint-${suffix}`);
  await c.api('POST', `/api/v4/groups/${groupId}/members`, {
    body: { user_id: developer.id, access_level: 30 },
  });
  await c.api('POST', `/api/v4/groups/${groupId}/members`, {
    body: { user_id: maintainer.id, access_level: 40 },
  });
  return { groupId, projectId: project.body.id, developer, maintainer };
}
