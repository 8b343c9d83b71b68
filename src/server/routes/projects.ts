import type { FastifyInstance } from 'fastify';
import { deleteArtifactBytes } from '../../artifacts/expire-artifacts.js';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import { createProject } from '../../coordinator/create-project.js';
import { deleteProjectIn } from '../../coordinator/delete-project.js';
import { checkDisplayName } from '../../coordinator/display-name.js';
import { redactRepositoryUrl } from '../../coordinator/git-repository.js';
import { requireGroup } from '../../coordinator/permissions.js';
import { checkRepositoryUrl } from '../../coordinator/repository-url.js';
import { TesseraError } from '../../errors.js';
import type { GroupRecord } from '../../store/repositories/groups.js';
import type { ProjectChanges, ProjectRecord } from '../../store/repositories/projects.js';
import { repositories } from '../../store/repositories.js';
import { isUniqueViolation } from '../../store/unique-violation.js';
import { DEFAULT_SUB_CLAIM_COMPONENTS, validateSubClaimComponents } from '../../token/subject.js';
import {
  applyMirrorSettings,
  checkMirrorAttributes,
  MIRROR_PROPERTIES,
  type MirrorAttributes,
  renderMirrorAttributes,
} from '../../triggers/mirror-settings.js';
import { authenticate, authenticateForProject } from '../authenticate.js';
import {
  linkTo,
  type PaginationQuery,
  pageWindow,
  paginationProperties,
  setPaginationHeaders,
} from '../offset-pagination.js';
import { accessLevel, displayName, iso, pathSegment, projectParams, visibility } from '../schemas.js';
import type { ServerContext } from '../server-context.js';

/** GitLab's project shape, plus Tessera's token settings. */
export function renderProject(project: ProjectRecord, group: GroupRecord | undefined, serverUrl: string) {
  return {
    id: project.id,
    name: project.name,
    path: project.path,
    path_with_namespace: project.pathWithNamespace,
    name_with_namespace: project.pathWithNamespace.split('/').join(' / '),
    namespace: group
      ? {
          id: group.id,
          name: group.name,
          path: group.path,
          kind: 'group',
          full_path: group.fullPath,
          parent_id: group.parentId,
        }
      : null,
    visibility: project.visibility,
    default_branch: project.defaultBranch,
    // GitLab shows an import URL without its credentials; so does Tessera.
    repository_url: redactRepositoryUrl(project.repositoryUrl),
    ci_config_path: project.ciConfigPath,
    build_timeout: project.jobTimeout,
    ci_id_token_sub_claim_components: project.subClaimComponents,
    ci_id_token_allowed_audiences: project.allowedAudiences,
    ci_id_token_max_lifetime: project.tokenMaxLifetime,
    max_artifacts_size: project.maxArtifactsSize,
    // GitLab's "Public pipelines" setting; `public_builds` is its deprecated name, still answered.
    public_jobs: project.publicJobs,
    public_builds: project.publicJobs,
    created_at: iso(project.createdAt),
    last_activity_at: iso(project.updatedAt),
    web_url: `${serverUrl}/${project.pathWithNamespace}`,
  };
}

const repositoryUrl = { type: 'string', minLength: 1, maxLength: 2048 } as const;
const branchName = { type: 'string', minLength: 1, maxLength: 255 } as const;
const ciConfigPath = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\0:]+$' } as const;
const audiences = {
  anyOf: [
    { type: 'null' },
    { type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 1024 } },
  ],
} as const;

interface ProjectBody extends MirrorAttributes {
  name?: string;
  path?: string;
  namespace_id?: number;
  visibility?: 'private' | 'internal' | 'public';
  repository_url?: string;
  default_branch?: string;
  ci_config_path?: string;
  build_timeout?: number;
  ci_id_token_sub_claim_components?: string[];
  ci_id_token_allowed_audiences?: string[] | null;
  ci_id_token_max_lifetime?: number | null;
  max_artifacts_size?: number | null;
  public_jobs?: boolean;
  /** Deprecated by GitLab for `public_jobs`, which wins when both are given. */
  public_builds?: boolean;
}

/** The `public_jobs` a body asks for (or its deprecated `public_builds`, as GitLab still takes it). */
function publicJobsOf(body: ProjectBody): boolean | undefined {
  return body.public_jobs ?? body.public_builds;
}

const projectProperties = {
  name: displayName,
  path: pathSegment,
  namespace_id: { type: 'integer', minimum: 1, maximum: 2147483647 },
  visibility,
  repository_url: repositoryUrl,
  default_branch: branchName,
  ci_config_path: ciConfigPath,
  build_timeout: { type: 'integer', minimum: 10, maximum: 2592000 },
  ci_id_token_sub_claim_components: { type: 'array', maxItems: 16, items: { type: 'string', maxLength: 64 } },
  ci_id_token_allowed_audiences: audiences,
  ci_id_token_max_lifetime: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 60, maximum: 86400 }] },
  description: { type: 'string', maxLength: 2000 },
  ...MIRROR_PROPERTIES,
  max_artifacts_size: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 1, maximum: 1048576 }] },
  public_jobs: { type: 'boolean' },
  public_builds: { type: 'boolean' },
} as const;

/** GitLab's `order_by` of `GET /projects` and the column behind each. */
const PROJECT_ORDERS = {
  id: 'id',
  name: 'name',
  path: 'path',
  created_at: 'createdAt',
  updated_at: 'updatedAt',
  // Tessera has no other activity than the project's own changes.
  last_activity_at: 'updatedAt',
} as const;

/** GitLab's filters of `GET /projects` that Tessera's projects have. */
interface ProjectListQuery extends PaginationQuery {
  search?: string;
  membership?: boolean;
  owned?: boolean;
  min_access_level?: number;
  visibility?: string;
  order_by?: keyof typeof PROJECT_ORDERS;
  sort?: 'asc' | 'desc';
  pagination?: 'offset' | 'keyset';
  id_after?: number;
  id_before?: number;
}

// Open to other parameters, as Grape is: clients send `simple` or `statistics`, which change only
// what GitLab adds to each project, never which projects are listed.
const projectListQuery = {
  type: 'object',
  properties: {
    ...paginationProperties,
    search: { type: 'string', maxLength: 255 },
    membership: { type: 'boolean' },
    owned: { type: 'boolean' },
    min_access_level: accessLevel,
    visibility,
    order_by: { type: 'string', enum: Object.keys(PROJECT_ORDERS) },
    sort: { type: 'string', enum: ['asc', 'desc'] },
    pagination: { type: 'string', enum: ['offset', 'keyset'] },
    id_after: { type: 'integer', minimum: 0, maximum: 2147483647 },
    id_before: { type: 'integer', minimum: 0, maximum: 2147483647 },
  },
} as const;

/** Checks a path as GitLab does: `[A-Za-z0-9_.-]`, not ending in `.git` or `.atom`. */
function checkPath(path: string): void {
  if (/\.(git|atom)$/.test(path) || path.endsWith('.')) {
    throw new TesseraError('ERR_VALIDATION', 'body.path must not end with ".", ".git" or ".atom"', {
      details: { field: 'body.path' },
    });
  }
}

/** `POST /projects`, `GET /projects`, `GET /projects/:id`, `PUT /projects/:id`. */
export function registerProjectRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;
  const render = async (project: ProjectRecord) => ({
    ...renderProject(
      project,
      await coordinator.repos.groups.findById(project.namespaceId),
      coordinator.urls.serverUrl,
    ),
    ...renderMirrorAttributes(await coordinator.repos.projectMirrors.find(project.id)),
  });

  app.post<{ Body: ProjectBody & { name: string; namespace_id: number; repository_url: string } }>(
    '/api/v4/projects',
    {
      schema: {
        body: {
          type: 'object',
          required: ['name', 'namespace_id', 'repository_url'],
          properties: projectProperties,
        },
      },
    },
    async (request, reply) => {
      const user = await authenticate(context, request);
      const body = request.body;
      await checkMirrorAttributes(coordinator, user, body);
      const { group } = await requireGroup(coordinator, user, body.namespace_id, ACCESS_LEVELS.maintainer);
      const path =
        body.path ??
        body.name
          .trim()
          .toLowerCase()
          .replace(/[^a-z0-9_.-]+/g, '-');
      if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(path)) {
        throw new TesseraError('ERR_VALIDATION', 'body.path is required when the name is not a valid path', {
          details: { field: 'body.path' },
        });
      }
      checkPath(path);
      const components = validateSubClaimComponents(
        body.ci_id_token_sub_claim_components ?? [...DEFAULT_SUB_CLAIM_COMPONENTS],
      );
      const project = await createProject(coordinator, user, {
        name: body.name,
        path,
        group,
        repositoryUrl: body.repository_url,
        ...(body.visibility === undefined ? {} : { visibility: body.visibility }),
        ...(body.default_branch === undefined ? {} : { defaultBranch: body.default_branch }),
        ...(body.ci_config_path === undefined ? {} : { ciConfigPath: body.ci_config_path }),
        subClaimComponents: components,
        allowedAudiences: body.ci_id_token_allowed_audiences ?? null,
        tokenMaxLifetime: body.ci_id_token_max_lifetime ?? null,
        jobTimeout: body.build_timeout ?? null,
        ...(publicJobsOf(body) === undefined ? {} : { publicJobs: publicJobsOf(body) }),
      });
      await applyMirrorSettings(coordinator, project, user, body);
      return reply.status(201).send(await render(project));
    },
  );

  app.get<{ Querystring: ProjectListQuery }>(
    '/api/v4/projects',
    { schema: { querystring: projectListQuery } },
    async (request, reply) => {
      const user = await authenticate(context, request);
      const query = request.query;
      const keyset = query.pagination === 'keyset';
      const orderBy = query.order_by ?? (keyset ? 'id' : 'created_at');
      if (keyset && orderBy !== 'id') {
        throw new TesseraError('ERR_VALIDATION', 'query.order_by must be id with pagination=keyset', {
          details: { field: 'query.order_by' },
        });
      }
      const sort = query.sort ?? 'desc';
      const window = pageWindow(query);
      const minimumLevel = query.owned ? ACCESS_LEVELS.owner : query.min_access_level;
      const membership = query.membership || query.owned || minimumLevel !== undefined;
      const page = await coordinator.repos.projects.page(
        {
          ...(user.isAdmin ? {} : { visibleTo: user.id }),
          ...(membership ? { memberOf: { userId: user.id, minimumLevel: minimumLevel ?? 1 } } : {}),
          ...(query.search === undefined ? {} : { search: query.search }),
          ...(query.visibility === undefined ? {} : { visibility: query.visibility }),
          orderBy: PROJECT_ORDERS[orderBy],
          sort,
          ...(query.id_after === undefined ? {} : { idAfter: query.id_after }),
          ...(query.id_before === undefined ? {} : { idBefore: query.id_before }),
        },
        keyset ? { limit: window.perPage, offset: 0 } : window,
      );
      if (keyset) {
        // GitLab's keyset pagination: only a `next` link, after the last id of a full page.
        const last = page.items[page.items.length - 1];
        if (last !== undefined && page.items.length === window.perPage) {
          const next =
            sort === 'asc'
              ? { id_after: String(last.id), id_before: null }
              : { id_before: String(last.id), id_after: null };
          reply.header(
            'link',
            `<${linkTo(request, coordinator.urls.serverUrl, { ...next, page: null })}>; rel="next"`,
          );
        }
      } else setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
      return Promise.all(page.items.map(render));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v4/projects/:id',
    { schema: { params: projectParams } },
    async (request) => {
      const { project } = await authenticateForProject(context, request, 0);
      return render(project);
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/v4/projects/:id',
    { schema: { params: projectParams } },
    async (request, reply) => {
      // GitLab: Owners delete projects; it answers 202 (its deletion runs in the background).
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.owner);
      const artifactKeys = await coordinator.store.transaction((tx) => deleteProjectIn(tx, project.id));
      await deleteArtifactBytes(coordinator, artifactKeys);
      return reply.status(202).send({ message: '202 Accepted' });
    },
  );

  app.put<{ Params: { id: string }; Body: ProjectBody }>(
    '/api/v4/projects/:id',
    { schema: { params: projectParams, body: { type: 'object', properties: projectProperties } } },
    async (request) => {
      const { user, project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
      const body = request.body;
      await checkMirrorAttributes(coordinator, user, body);
      if (body.max_artifacts_size !== undefined && !user.isAdmin) {
        throw new TesseraError(
          'ERR_FORBIDDEN',
          'only an administrator may set max_artifacts_size (as GitLab)',
        );
      }
      if (body.namespace_id !== undefined && body.namespace_id !== project.namespaceId) {
        throw new TesseraError(
          'ERR_VALIDATION',
          'body.namespace_id cannot change (transfer is not supported)',
          {
            details: { field: 'body.namespace_id' },
          },
        );
      }
      const changes: ProjectChanges = {};
      if (body.name !== undefined) {
        checkDisplayName(body.name, 'name');
        changes.name = body.name;
      }
      if (body.path !== undefined && body.path !== project.path) {
        checkPath(body.path);
        const group = await coordinator.repos.groups.findById(project.namespaceId);
        changes.path = body.path;
        changes.pathWithNamespace = `${group?.fullPath}/${body.path}`;
      }
      if (body.visibility !== undefined) changes.visibility = body.visibility;
      if (body.repository_url !== undefined && body.repository_url !== project.repositoryUrl) {
        await checkRepositoryUrl(coordinator.config, body.repository_url, user);
        changes.repositoryUrl = body.repository_url;
      }
      if (body.default_branch !== undefined) changes.defaultBranch = body.default_branch;
      if (body.ci_config_path !== undefined) changes.ciConfigPath = body.ci_config_path;
      if (body.build_timeout !== undefined) changes.jobTimeout = body.build_timeout;
      if (body.ci_id_token_sub_claim_components !== undefined) {
        changes.subClaimComponents = validateSubClaimComponents(body.ci_id_token_sub_claim_components);
      }
      if (body.ci_id_token_allowed_audiences !== undefined)
        changes.allowedAudiences = body.ci_id_token_allowed_audiences;
      if (body.ci_id_token_max_lifetime !== undefined)
        changes.tokenMaxLifetime = body.ci_id_token_max_lifetime;
      if (body.max_artifacts_size !== undefined) changes.maxArtifactsSize = body.max_artifacts_size;
      const publicJobs = publicJobsOf(body);
      if (publicJobs !== undefined) changes.publicJobs = publicJobs;
      try {
        const updated = await coordinator.store.transaction((tx) =>
          repositories(tx).projects.update(project.id, changes, coordinator.clock()),
        );
        await applyMirrorSettings(coordinator, updated, user, body, {
          repositoryChanged:
            changes.repositoryUrl !== undefined && changes.repositoryUrl !== project.repositoryUrl,
        });
        return render(updated);
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new TesseraError(
            'ERR_CONFLICT',
            `path has already been taken: the group has a project at "${body.path}" (paths are unique regardless of case)`,
            { details: { field: 'path' } },
          );
        }
        throw error;
      }
    },
  );
}
