import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import { requireGroup } from '../../coordinator/permissions.js';
import { TesseraError } from '../../errors.js';
import type { PageWindow } from '../../store/page-query.js';
import type { VariableOwner } from '../../store/repositories/ci-variables.js';
import type { VariableRecord } from '../../store/repositories/variables.js';
import { isUniqueViolation } from '../../store/unique-violation.js';
import { authenticate, authenticateAdmin, authenticateForProject } from '../authenticate.js';
import {
  type PaginationQuery,
  pageWindow,
  paginationProperties,
  setPaginationHeaders,
} from '../offset-pagination.js';
import { idParams, projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';

/**
 * GitLab's variable shape. A masked variable's value is a secret: it is delivered to jobs only and
 * shown as null here (as GitLab does for "masked and hidden" variables).
 */
function renderVariable(variable: VariableFields) {
  return {
    variable_type: variable.variableType,
    key: variable.key,
    value: variable.masked ? null : variable.value,
    hidden: variable.masked,
    protected: variable.protected,
    masked: variable.masked,
    raw: variable.raw,
    environment_scope: variable.environmentScope,
    description: null,
  };
}

const variableKey = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9_]+$' } as const;
const variableProperties = {
  key: variableKey,
  value: { type: 'string', maxLength: 65536 },
  variable_type: { type: 'string', enum: ['env_var', 'file'] },
  protected: { type: 'boolean' },
  masked: { type: 'boolean' },
  masked_and_hidden: { type: 'boolean' },
  raw: { type: 'boolean' },
  environment_scope: { type: 'string', enum: ['*'] },
  description: { type: 'string', maxLength: 255 },
} as const;

interface VariableBody {
  key?: string;
  value?: string;
  variable_type?: 'env_var' | 'file';
  protected?: boolean;
  masked?: boolean;
  masked_and_hidden?: boolean;
  raw?: boolean;
}

/** Masked values must be maskable in a log: one line, at least 8 characters (GitLab's rule). */
function checkMaskable(value: string): void {
  if (value.length < 8 || /[\r\n]/.test(value)) {
    throw new TesseraError(
      'ERR_VALIDATION',
      'body.value of a masked variable must be one line of at least 8 characters',
      {
        details: { field: 'body.value' },
      },
    );
  }
}

/** What every variable has, wherever it belongs. */
type VariableFields = Pick<
  VariableRecord,
  'id' | 'key' | 'value' | 'variableType' | 'protected' | 'masked' | 'raw' | 'environmentScope'
>;
type VariableChanges = Partial<
  Pick<VariableRecord, 'value' | 'protected' | 'masked' | 'raw' | 'variableType'>
>;

/** The variables of one project, group or the instance, as the routes use them. */
interface VariableSet {
  create(input: Omit<VariableFields, 'id'> & { createdAt: number }): Promise<VariableFields>;
  page(window: PageWindow): Promise<{ items: VariableFields[]; total: number }>;
  find(key: string): Promise<VariableFields | undefined>;
  update(id: number, changes: VariableChanges): Promise<VariableFields>;
  delete(id: number): Promise<void>;
}

/**
 * `/projects/:id/variables[/:key]` (Maintainers), `/groups/:id/variables[/:key]` (the group's
 * Owners, as GitLab) and `/admin/ci/variables[/:key]` (administrators): create, list (paged),
 * show, update, delete. Jobs see the instance's, then their groups' from the top down, then
 * their project's, a later key winning (see `projectVariablesFor`).
 */
export function registerVariableRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;
  const ownedSet = (owner: VariableOwner): VariableSet => ({
    create: (input) => coordinator.repos.ciVariables.create({ ...input, ...owner }),
    page: (window) => coordinator.repos.ciVariables.page(owner, window),
    find: (key) => coordinator.repos.ciVariables.find(owner, key),
    update: (id, changes) => coordinator.repos.ciVariables.update(id, changes),
    delete: (id) => coordinator.repos.ciVariables.delete(id),
  });

  registerVariableSet(app, context, {
    base: '/api/v4/projects/:id/variables',
    params: projectParams,
    resolve: async (request) => {
      const { project } = await authenticateForProject(
        context,
        request as FastifyRequest<{ Params: { id: string } }>,
        ACCESS_LEVELS.maintainer,
      );
      return {
        create: (input) => coordinator.repos.variables.create({ ...input, projectId: project.id }),
        page: (window) => coordinator.repos.variables.page(project.id, window),
        find: (key) => coordinator.repos.variables.find(project.id, key),
        update: (id, changes) => coordinator.repos.variables.update(id, changes),
        delete: (id) => coordinator.repos.variables.delete(id),
      };
    },
  });
  registerVariableSet(app, context, {
    base: '/api/v4/groups/:id/variables',
    params: idParams,
    resolve: async (request) => {
      const user = await authenticate(context, request);
      const id = (request.params as { id: number }).id;
      const { group } = await requireGroup(coordinator, user, id, ACCESS_LEVELS.owner);
      return ownedSet({ ownerType: 'group', ownerId: group.id });
    },
  });
  registerVariableSet(app, context, {
    base: '/api/v4/admin/ci/variables',
    params: undefined,
    resolve: async (request) => {
      await authenticateAdmin(context, request);
      return ownedSet({ ownerType: 'instance', ownerId: 0 });
    },
  });
}

/** The five variable routes under `base`, on the set `resolve` finds for the caller. */
function registerVariableSet(
  app: FastifyInstance,
  context: ServerContext,
  options: {
    base: string;
    params: { type: 'object'; required: readonly string[]; properties: Record<string, unknown> } | undefined;
    resolve: (request: FastifyRequest) => Promise<VariableSet>;
  },
): void {
  const { coordinator } = context;
  const { base, params, resolve } = options;
  const keyParams = {
    type: 'object',
    required: [...(params?.required ?? []), 'key'],
    properties: { ...(params?.properties ?? {}), key: variableKey },
  } as const;
  const listSchema = {
    ...(params ? { params } : {}),
    querystring: { type: 'object', properties: paginationProperties },
  };

  app.post<{ Body: VariableBody & { key: string; value: string } }>(
    base,
    {
      schema: {
        ...(params ? { params } : {}),
        body: { type: 'object', required: ['key', 'value'], properties: variableProperties },
      },
    },
    async (request, reply) => {
      const set = await resolve(request);
      const body = request.body;
      const masked = body.masked === true || body.masked_and_hidden === true;
      if (masked) checkMaskable(body.value);
      try {
        const variable = await set.create({
          key: body.key,
          value: body.value,
          variableType: body.variable_type ?? 'env_var',
          protected: body.protected === true,
          masked,
          raw: body.raw === true,
          environmentScope: '*',
          createdAt: coordinator.clock(),
        });
        return reply.status(201).send(renderVariable(variable));
      } catch (error) {
        if (isUniqueViolation(error))
          throw new TesseraError('ERR_CONFLICT', `variable ${body.key} exists already`);
        throw error;
      }
    },
  );

  app.get<{ Querystring: PaginationQuery }>(base, { schema: listSchema }, async (request, reply) => {
    const set = await resolve(request);
    const window = pageWindow(request.query);
    const page = await set.page(window);
    setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
    return page.items.map(renderVariable);
  });

  /** The variable a `…/variables/:key` request names, in the caller's set. */
  const find = async (request: FastifyRequest<{ Params: { key: string } }>) => {
    const set = await resolve(request);
    const variable = await set.find(request.params.key);
    if (!variable) throw new TesseraError('ERR_NOT_FOUND', `variable ${request.params.key} not found`);
    return { set, variable };
  };

  app.get<{ Params: { key: string } }>(`${base}/:key`, { schema: { params: keyParams } }, async (request) =>
    renderVariable((await find(request)).variable),
  );

  app.put<{ Params: { key: string }; Body: VariableBody }>(
    `${base}/:key`,
    { schema: { params: keyParams, body: { type: 'object', properties: variableProperties } } },
    async (request) => {
      const { set, variable } = await find(request);
      const body = request.body ?? {};
      const masked = body.masked ?? body.masked_and_hidden ?? variable.masked;
      const value = body.value ?? variable.value;
      if (masked) checkMaskable(value);
      const updated = await set.update(variable.id, {
        value,
        masked,
        ...(body.protected !== undefined ? { protected: body.protected } : {}),
        ...(body.raw !== undefined ? { raw: body.raw } : {}),
        ...(body.variable_type !== undefined ? { variableType: body.variable_type } : {}),
      });
      return renderVariable(updated);
    },
  );

  app.delete<{ Params: { key: string } }>(
    `${base}/:key`,
    { schema: { params: keyParams } },
    async (request, reply) => {
      const { set, variable } = await find(request);
      await set.delete(variable.id);
      return reply.status(204).send();
    },
  );
}
