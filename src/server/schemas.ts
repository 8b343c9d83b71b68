/** JSON Schema pieces shared by the routes (Fastify validates every body, query and param). */

/** `:id` path parameter. */
export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: 2147483647 } },
} as const;

/** A GitLab path segment (`acme`, `my-project`). */
export const pathSegment = {
  type: 'string',
  minLength: 1,
  maxLength: 255,
  pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]*$',
} as const;

/** A display name. */
export const displayName = { type: 'string', minLength: 1, maxLength: 255 } as const;

/** `private` / `internal` / `public`. */
export const visibility = { type: 'string', enum: ['private', 'internal', 'public'] } as const;

/** GitLab access levels (10 guest … 50 owner). */
export const accessLevel = { type: 'integer', enum: [10, 20, 30, 40, 50] } as const;

/** Time as an ISO 8601 string, as GitLab renders it. */
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** GitLab's environment names, as its environments and deployments APIs take them. */
export const environmentName = {
  type: 'string',
  minLength: 1,
  maxLength: 255,
  // $ and braces: GitLab environment names may hold variables such as review/$CI_COMMIT_REF_SLUG.
  pattern: '^[A-Za-z0-9 _./{}$-]+$',
} as const;

/** `:id` of a project: its number or its full path (URL-encoded in the request). */
export const projectParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 1024 } },
} as const;
