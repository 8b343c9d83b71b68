import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import { TesseraError } from '../../errors.js';
import type { VariableRecord } from '../../store/repositories/variables.js';
import { isUniqueViolation } from '../../store/unique-violation.js';
import { authenticateForProject } from '../authenticate.js';
import {
  type PaginationQuery,
  pageWindow,
  paginationProperties,
  setPaginationHeaders,
} from '../offset-pagination.js';
import { projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';

/**
 * GitLab's variable shape. A masked variable's value is a secret: it is delivered to jobs only and
 * shown as null here (as GitLab does for "masked and hidden" variables).
 */
function renderVariable(variable: VariableRecord) {
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

/** `/projects/:id/variables[/:key]`: create, list, show, update, delete. */
export function registerVariableRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;
  const keyParams = {
    type: 'object',
    required: ['id', 'key'],
    properties: { ...projectParams.properties, key: variableKey },
  } as const;

  app.post<{ Params: { id: string }; Body: VariableBody & { key: string; value: string } }>(
    '/api/v4/projects/:id/variables',
    {
      schema: {
        params: projectParams,
        body: { type: 'object', required: ['key', 'value'], properties: variableProperties },
      },
    },
    async (request, reply) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
      const body = request.body;
      const masked = body.masked === true || body.masked_and_hidden === true;
      if (masked) checkMaskable(body.value);
      try {
        const variable = await coordinator.repos.variables.create({
          projectId: project.id,
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

  app.get<{ Params: { id: string }; Querystring: PaginationQuery }>(
    '/api/v4/projects/:id/variables',
    { schema: { params: projectParams, querystring: { type: 'object', properties: paginationProperties } } },
    async (request, reply) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
      const window = pageWindow(request.query);
      const page = await coordinator.repos.variables.page(project.id, window);
      setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
      return page.items.map(renderVariable);
    },
  );

  /** The variable a `/projects/:id/variables/:key` request names, for a maintainer of the project. */
  const find = async (request: FastifyRequest<{ Params: { id: string; key: string } }>) => {
    const { key } = request.params;
    const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
    const variable = await coordinator.repos.variables.find(project.id, key);
    if (!variable) throw new TesseraError('ERR_NOT_FOUND', `variable ${key} not found`);
    return variable;
  };

  app.get<{ Params: { id: string; key: string } }>(
    '/api/v4/projects/:id/variables/:key',
    { schema: { params: keyParams } },
    async (request) => renderVariable(await find(request)),
  );

  app.put<{ Params: { id: string; key: string }; Body: VariableBody }>(
    '/api/v4/projects/:id/variables/:key',
    { schema: { params: keyParams, body: { type: 'object', properties: variableProperties } } },
    async (request) => {
      const variable = await find(request);
      const body = request.body;
      const masked = body.masked ?? body.masked_and_hidden ?? variable.masked;
      const value = body.value ?? variable.value;
      if (masked) checkMaskable(value);
      const updated = await coordinator.repos.variables.update(variable.id, {
        value,
        masked,
        ...(body.protected !== undefined ? { protected: body.protected } : {}),
        ...(body.raw !== undefined ? { raw: body.raw } : {}),
        ...(body.variable_type !== undefined ? { variableType: body.variable_type } : {}),
      });
      return renderVariable(updated);
    },
  );

  app.delete<{ Params: { id: string; key: string } }>(
    '/api/v4/projects/:id/variables/:key',
    { schema: { params: keyParams } },
    async (request, reply) => {
      const variable = await find(request);
      await coordinator.repos.variables.delete(variable.id);
      return reply.status(204).send();
    },
  );
}
