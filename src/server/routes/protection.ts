import type { FastifyInstance } from 'fastify';
import { ACCESS_LEVELS, accessLevelDescription } from '../../coordinator/access-level.js';
import { environmentRefusal } from '../../coordinator/create-pipeline.js';
import { guessTier } from '../../coordinator/deployment-tier.js';
import { stopEnvironment } from '../../coordinator/stop-environment.js';
import { stopStaleEnvironments } from '../../coordinator/stop-stale-environments.js';
import { TesseraError } from '../../errors.js';
import { environmentSlug } from '../../pipeline/environment-name.js';
import { DeploymentRepository } from '../../store/repositories/deployments.js';
import type { ProjectRecord } from '../../store/repositories/projects.js';
import type {
  EnvironmentRecord,
  ProtectedEnvironmentRecord,
  ProtectedRefRecord,
} from '../../store/repositories/protection.js';
import type { UserRecord } from '../../store/repositories/users.js';
import { repositories } from '../../store/repositories.js';
import { isUniqueViolation } from '../../store/unique-violation.js';
import { authenticateForProject } from '../authenticate.js';
import {
  type PaginationQuery,
  pageWindow,
  paginationProperties,
  setPaginationHeaders,
} from '../offset-pagination.js';
import { environmentName, iso, projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';
import { renderDeployment } from './deployments.js';

/** 0 = no one, 60 = instance admins only, else a role. */
const protectionLevel = { type: 'integer', enum: [0, 10, 20, 30, 40, 50, 60] } as const;
const refPattern = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^\\s~^:?\\[\\\\]+$' } as const;
const TIERS = ['production', 'staging', 'testing', 'development', 'other'];
const DAY_MS = 24 * 60 * 60 * 1000;

function levelEntry(id: number, level: number) {
  return {
    id,
    access_level: level,
    access_level_description: level === 60 ? 'Administrators' : accessLevelDescription(level),
    user_id: null,
    group_id: null,
  };
}

function renderProtectedBranch(ref: ProtectedRefRecord) {
  return {
    id: ref.id,
    name: ref.name,
    push_access_levels: [levelEntry(ref.id, ref.accessLevel)],
    merge_access_levels: [levelEntry(ref.id, ref.accessLevel)],
    allow_force_push: false,
    code_owner_approval_required: false,
  };
}

function renderProtectedTag(ref: ProtectedRefRecord) {
  return { name: ref.name, create_access_levels: [levelEntry(ref.id, ref.accessLevel)] };
}

/** GitLab's environment shape. */
export function renderEnvironment(environment: EnvironmentRecord) {
  return {
    id: environment.id,
    name: environment.name,
    // The same slug as the job's CI_ENVIRONMENT_SLUG.
    slug: environmentSlug(environment.name),
    external_url: environment.externalUrl,
    state: environment.state,
    tier: environment.tier,
    created_at: iso(environment.createdAt),
    updated_at: iso(environment.updatedAt ?? environment.createdAt),
    auto_stop_at: iso(environment.autoStopAt),
  };
}

const listQuery = { type: 'object', properties: paginationProperties } as const;

function renderProtectedEnvironment(environment: ProtectedEnvironmentRecord) {
  return {
    name: environment.name,
    deploy_access_levels: [
      { ...levelEntry(environment.id, environment.accessLevel), group_inheritance_type: 0 },
    ],
    required_approval_count: 0,
  };
}

/**
 * Protected branches and tags (patterns such as `release/*`), environments and protected
 * environments, as GitLab's API: `/projects/:id/protected_branches`, `/protected_tags`,
 * `/environments`, `/protected_environments`.
 */
export function registerProtectionRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;
  const conflict = (what: string) => (error: unknown) => {
    if (isUniqueViolation(error)) throw new TesseraError('ERR_CONFLICT', `${what} exists already`);
    throw error;
  };

  for (const refType of ['branch', 'tag'] as const) {
    const collection = refType === 'branch' ? 'protected_branches' : 'protected_tags';
    const levelField = refType === 'branch' ? 'push_access_level' : 'create_access_level';
    const render: (ref: ProtectedRefRecord) => unknown =
      refType === 'branch' ? renderProtectedBranch : renderProtectedTag;

    app.post<{ Params: { id: string }; Body: Record<string, unknown> & { name: string } }>(
      `/api/v4/projects/:id/${collection}`,
      {
        schema: {
          params: projectParams,
          body: {
            type: 'object',
            required: ['name'],
            properties: {
              name: refPattern,
              [levelField]: protectionLevel,
              merge_access_level: protectionLevel,
              unprotect_access_level: protectionLevel,
              allow_force_push: { type: 'boolean' },
            },
          },
        },
      },
      async (request, reply) => {
        const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
        const level = (request.body[levelField] as number | undefined) ?? ACCESS_LEVELS.maintainer;
        const created = await coordinator.repos.protection
          .createProtectedRef({
            projectId: project.id,
            refType,
            name: request.body.name,
            accessLevel: level,
            createdAt: coordinator.clock(),
          })
          .catch(conflict(`protected ${refType} ${request.body.name}`));
        return reply.status(201).send(render(created));
      },
    );

    app.get<{ Params: { id: string }; Querystring: PaginationQuery }>(
      `/api/v4/projects/:id/${collection}`,
      { schema: { params: projectParams, querystring: listQuery } },
      async (request, reply) => {
        const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.guest);
        const window = pageWindow(request.query);
        const page = await coordinator.repos.protection.pageProtectedRefs(project.id, refType, window);
        setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
        return page.items.map(render);
      },
    );

    app.delete<{ Params: { id: string; name: string } }>(
      `/api/v4/projects/:id/${collection}/:name`,
      {
        schema: {
          params: {
            type: 'object',
            required: ['id', 'name'],
            properties: { ...projectParams.properties, name: refPattern },
          },
        },
      },
      async (request, reply) => {
        const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
        const removed = await coordinator.repos.protection.deleteProtectedRef(
          project.id,
          refType,
          request.params.name,
        );
        if (!removed)
          throw new TesseraError('ERR_NOT_FOUND', `protected ${refType} ${request.params.name} not found`);
        return reply.status(204).send();
      },
    );
  }

  app.post<{ Params: { id: string }; Body: { name: string; external_url?: string; tier?: string } }>(
    '/api/v4/projects/:id/environments',
    {
      schema: {
        params: projectParams,
        body: {
          type: 'object',
          required: ['name'],
          properties: {
            name: environmentName,
            external_url: { type: 'string', maxLength: 2048, pattern: '^https?://' },
            tier: { type: 'string', enum: TIERS },
          },
        },
      },
    },
    async (request, reply) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.developer);
      const environment = await coordinator.repos.protection
        .createEnvironment({
          projectId: project.id,
          name: request.body.name,
          externalUrl: request.body.external_url ?? null,
          tier: request.body.tier ?? guessTier(request.body.name),
          state: 'available',
          createdAt: coordinator.clock(),
        })
        .catch(conflict(`environment ${request.body.name}`));
      return reply.status(201).send(renderEnvironment(environment));
    },
  );

  app.get<{ Params: { id: string }; Querystring: PaginationQuery & { name?: string; states?: string } }>(
    '/api/v4/projects/:id/environments',
    {
      schema: {
        params: projectParams,
        querystring: {
          type: 'object',
          properties: {
            ...paginationProperties,
            name: environmentName,
            states: { type: 'string', enum: ['available', 'stopping', 'stopped'] },
          },
        },
      },
    },
    async (request, reply) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.reporter);
      const window = pageWindow(request.query);
      const { name, states } = request.query;
      const page = await coordinator.repos.protection.pageEnvironments(project.id, window, {
        ...(name === undefined ? {} : { name }),
        ...(states === undefined ? {} : { states: [states] }),
      });
      setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
      return page.items.map(renderEnvironment);
    },
  );

  app.post<{
    Params: { id: string };
    Body: { name: string; deploy_access_levels?: Array<{ access_level?: number }> };
  }>(
    '/api/v4/projects/:id/protected_environments',
    {
      schema: {
        params: projectParams,
        body: {
          type: 'object',
          required: ['name'],
          properties: {
            name: environmentName,
            deploy_access_levels: {
              type: 'array',
              maxItems: 8,
              items: { type: 'object', properties: { access_level: protectionLevel } },
            },
            required_approval_count: { type: 'integer', minimum: 0, maximum: 0 },
          },
        },
      },
    },
    async (request, reply) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
      const levels = (request.body.deploy_access_levels ?? [])
        .map((entry) => entry.access_level)
        .filter((level): level is number => level !== undefined);
      // Several role entries mean "any of these"; the lowest one is the bar.
      const level = levels.length > 0 ? Math.min(...levels) : ACCESS_LEVELS.maintainer;
      const created = await coordinator.repos.protection
        .createProtectedEnvironment({
          projectId: project.id,
          name: request.body.name,
          accessLevel: level,
          createdAt: coordinator.clock(),
        })
        .catch(conflict(`protected environment ${request.body.name}`));
      return reply.status(201).send(renderProtectedEnvironment(created));
    },
  );

  const environmentParams = {
    type: 'object',
    required: ['id', 'environment_id'],
    properties: {
      ...projectParams.properties,
      environment_id: { type: 'integer', minimum: 1, maximum: 2147483647 },
    },
  } as const;
  const findEnvironment = async (projectId: number, id: number) => {
    const environment = await coordinator.repos.protection.findEnvironmentById(projectId, id);
    if (!environment) throw new TesseraError('ERR_NOT_FOUND', `environment ${id} not found`);
    return environment;
  };
  // GitLab: who may not deploy to a protected environment may not update, stop or delete it either.
  const checkMayDeploy = async (project: ProjectRecord, user: UserRecord, environment: EnvironmentRecord) => {
    const why = await environmentRefusal(coordinator, coordinator.store.db, project, user, environment.name);
    if (why) throw new TesseraError('ERR_ENVIRONMENT_PROTECTED', why);
  };

  app.put<{
    Params: { id: string; environment_id: number };
    Body: { external_url?: string | null; tier?: string };
  }>(
    '/api/v4/projects/:id/environments/:environment_id',
    {
      schema: {
        params: environmentParams,
        body: {
          type: 'object',
          properties: {
            external_url: {
              anyOf: [{ type: 'null' }, { type: 'string', maxLength: 2048, pattern: '^https?://' }],
            },
            tier: { type: 'string', enum: TIERS },
          },
        },
      },
    },
    async (request) => {
      const { project, user } = await authenticateForProject(context, request, ACCESS_LEVELS.developer);
      const environment = await findEnvironment(project.id, request.params.environment_id);
      await checkMayDeploy(project, user, environment);
      const body = request.body ?? {};
      const changes = {
        ...(body.external_url === undefined ? {} : { externalUrl: body.external_url }),
        ...(body.tier === undefined ? {} : { tier: body.tier }),
      };
      const changed = await coordinator.repos.protection.updateEnvironment(
        environment.id,
        Object.keys(changes).length === 0 ? {} : { ...changes, updatedAt: coordinator.clock() },
      );
      return renderEnvironment(changed ?? environment);
    },
  );

  app.get<{ Params: { id: string; environment_id: number } }>(
    '/api/v4/projects/:id/environments/:environment_id',
    { schema: { params: environmentParams } },
    async (request) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.reporter);
      const environment = await findEnvironment(project.id, request.params.environment_id);
      const last = await new DeploymentRepository(coordinator.store.db).lastSuccessful(environment.id);
      return {
        ...renderEnvironment(environment),
        last_deployment: last ? await renderDeployment(coordinator, project, last) : null,
      };
    },
  );

  app.post<{ Params: { id: string; environment_id: number }; Body: { force?: boolean } | undefined }>(
    '/api/v4/projects/:id/environments/:environment_id/stop',
    {
      schema: {
        params: environmentParams,
        body: { type: ['object', 'null'], properties: { force: { type: 'boolean' } } },
      },
    },
    async (request, reply) => {
      const { project, user } = await authenticateForProject(context, request, ACCESS_LEVELS.developer);
      const environment = await findEnvironment(project.id, request.params.environment_id);
      await checkMayDeploy(project, user, environment);
      const stop = await stopEnvironment(coordinator, environment, {
        actor: { user, project },
        force: request.body?.force === true,
      });
      return reply.status(200).send(renderEnvironment(stop.environment));
    },
  );

  app.post<{ Params: { id: string }; Body: { before: string } }>(
    '/api/v4/projects/:id/environments/stop_stale',
    {
      schema: {
        params: projectParams,
        body: {
          type: 'object',
          required: ['before'],
          properties: { before: { type: 'string', minLength: 1, maxLength: 64 } },
        },
      },
    },
    async (request) => {
      const { project, user } = await authenticateForProject(context, request, ACCESS_LEVELS.developer);
      const before = Date.parse(request.body.before);
      const now = coordinator.clock();
      // GitLab's bounds: between 10 years and 1 week ago.
      if (Number.isNaN(before) || before < now - 10 * 365.25 * DAY_MS || before > now - 7 * DAY_MS) {
        throw new TesseraError(
          'ERR_VALIDATION',
          'before must be an ISO 8601 date (2019-03-15T08:00:00Z) between 10 years and 1 week ago',
        );
      }
      const result = await stopStaleEnvironments(coordinator, project, user, before);
      return {
        message: 'Successfully requested stop for all stale environments',
        stopped: result.stopped,
        refused: result.refused,
      };
    },
  );

  app.delete<{ Params: { id: string; environment_id: number } }>(
    '/api/v4/projects/:id/environments/:environment_id',
    { schema: { params: environmentParams } },
    async (request, reply) => {
      const { project, user } = await authenticateForProject(context, request, ACCESS_LEVELS.developer);
      const environment = await findEnvironment(project.id, request.params.environment_id);
      await checkMayDeploy(project, user, environment);
      // GitLab deletes only a stopped environment.
      if (environment.state !== 'stopped') {
        throw new TesseraError(
          'ERR_FORBIDDEN',
          `environment ${environment.name} is ${environment.state}: stop it first (POST …/environments/${environment.id}/stop)`,
        );
      }
      await coordinator.store.transaction((tx) =>
        repositories(tx).protection.deleteEnvironment(environment.id),
      );
      return reply.status(204).send();
    },
  );

  app.delete<{ Params: { id: string; name: string } }>(
    '/api/v4/projects/:id/protected_environments/:name',
    {
      schema: {
        params: {
          type: 'object',
          required: ['id', 'name'],
          properties: { ...projectParams.properties, name: environmentName },
        },
      },
    },
    async (request, reply) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
      if (!(await coordinator.repos.protection.deleteProtectedEnvironment(project.id, request.params.name))) {
        throw new TesseraError('ERR_NOT_FOUND', `protected environment ${request.params.name} not found`);
      }
      return reply.status(204).send();
    },
  );

  app.get<{ Params: { id: string }; Querystring: PaginationQuery }>(
    '/api/v4/projects/:id/protected_environments',
    { schema: { params: projectParams, querystring: listQuery } },
    async (request, reply) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.reporter);
      const window = pageWindow(request.query);
      const page = await coordinator.repos.protection.pageProtectedEnvironments(project.id, window);
      setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
      return page.items.map(renderProtectedEnvironment);
    },
  );
}
