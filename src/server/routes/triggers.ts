import type { FastifyInstance } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import type { Coordinator } from '../../coordinator/coordinator.js';
import { createPipeline } from '../../coordinator/create-pipeline.js';
import { findProjectByIdOrPath } from '../../coordinator/permissions.js';
import { TesseraError } from '../../errors.js';
import { MAX_PIPELINE_INPUTS } from '../../pipeline/pipeline-inputs.js';
import type { PipelineTriggerRecord } from '../../store/repositories/pipeline-triggers.js';
import type { ProjectRecord } from '../../store/repositories/projects.js';
import {
  createTrigger,
  invalidTriggerToken,
  resolveTriggerToken,
  TRIGGER_TOKEN_PREFIX,
  triggerInputs,
  triggerVariables,
} from '../../triggers/trigger-tokens.js';
import { authenticateForProject, recordAuthFailure } from '../authenticate.js';
import {
  type PaginationQuery,
  pageWindow,
  paginationProperties,
  setPaginationHeaders,
} from '../offset-pagination.js';
import { iso, projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';
import { renderPipeline } from './pipelines.js';
import { renderUserBasic } from './users.js';

const triggerParams = {
  type: 'object',
  required: ['id', 'trigger_id'],
  properties: {
    ...projectParams.properties,
    trigger_id: { type: 'integer', minimum: 1, maximum: 2147483647 },
  },
} as const;

const description = { type: 'string', minLength: 1, maxLength: 255 } as const;

/**
 * GitLab's trigger shape. The token itself is kept only as a hash, so it appears in full once, in
 * the answer to its creation; afterwards everyone sees its first four characters (GitLab shows
 * those to everyone but the owner).
 */
async function renderTrigger(coordinator: Coordinator, trigger: PipelineTriggerRecord, fullToken?: string) {
  const owner = await coordinator.repos.users.findById(trigger.ownerId);
  return {
    id: trigger.id,
    description: trigger.description,
    created_at: iso(trigger.createdAt),
    updated_at: iso(trigger.updatedAt),
    last_used: iso(trigger.lastUsedAt),
    token: fullToken ?? `${TRIGGER_TOKEN_PREFIX}${trigger.tokenStart}`,
    owner: owner ? renderUserBasic(owner, coordinator.urls.serverUrl) : null,
  };
}

/**
 * `GET/POST /projects/:id/triggers`, `GET/PUT/DELETE /projects/:id/triggers/:trigger_id`
 * (maintainers), and `POST /projects/:id/trigger/pipeline` (no other authentication than the token).
 */
export function registerTriggerRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;

  const findTrigger = async (project: ProjectRecord, id: number) => {
    const trigger = await coordinator.repos.pipelineTriggers.findById(id);
    if (!trigger || trigger.projectId !== project.id) {
      throw new TesseraError('ERR_NOT_FOUND', `trigger ${id} not found`);
    }
    return trigger;
  };

  app.get<{ Params: { id: string }; Querystring: PaginationQuery }>(
    '/api/v4/projects/:id/triggers',
    { schema: { params: projectParams, querystring: { type: 'object', properties: paginationProperties } } },
    async (request, reply) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
      const window = pageWindow(request.query);
      const page = await coordinator.repos.pipelineTriggers.pageByProject(project.id, window);
      setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
      return Promise.all(page.items.map((trigger) => renderTrigger(coordinator, trigger)));
    },
  );

  app.post<{ Params: { id: string }; Body: { description: string } }>(
    '/api/v4/projects/:id/triggers',
    {
      schema: {
        params: projectParams,
        body: { type: 'object', required: ['description'], properties: { description } },
      },
    },
    async (request, reply) => {
      const { user, project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
      const created = await createTrigger(coordinator, project, user, request.body.description);
      return reply.status(201).send(await renderTrigger(coordinator, created.trigger, created.token));
    },
  );

  app.get<{ Params: { id: string; trigger_id: number } }>(
    '/api/v4/projects/:id/triggers/:trigger_id',
    { schema: { params: triggerParams } },
    async (request) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
      return renderTrigger(coordinator, await findTrigger(project, request.params.trigger_id));
    },
  );

  app.put<{ Params: { id: string; trigger_id: number }; Body: { description?: string } }>(
    '/api/v4/projects/:id/triggers/:trigger_id',
    { schema: { params: triggerParams, body: { type: 'object', properties: { description } } } },
    async (request) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
      const trigger = await findTrigger(project, request.params.trigger_id);
      if (request.body.description !== undefined) {
        await coordinator.repos.pipelineTriggers.update(trigger.id, {
          description: request.body.description,
          updatedAt: coordinator.clock(),
        });
      }
      return renderTrigger(coordinator, await findTrigger(project, trigger.id));
    },
  );

  app.delete<{ Params: { id: string; trigger_id: number } }>(
    '/api/v4/projects/:id/triggers/:trigger_id',
    { schema: { params: triggerParams } },
    async (request, reply) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
      const trigger = await findTrigger(project, request.params.trigger_id);
      await coordinator.repos.pipelineTriggers.delete(trigger.id);
      return reply.status(204).send();
    },
  );

  app.post<{
    Params: { id: string };
    Querystring: Record<string, unknown>;
    Body: Record<string, unknown> | undefined;
  }>(
    '/api/v4/projects/:id/trigger/pipeline',
    {
      schema: {
        params: projectParams,
        // `variables[KEY]=v` arrives nested (GitLab's forms); the handler checks every field it reads.
        querystring: {
          type: 'object',
          properties: {
            variables: { type: 'object', additionalProperties: { type: 'string', maxLength: 65536 } },
            inputs: { type: 'object', maxProperties: MAX_PIPELINE_INPUTS },
          },
          additionalProperties: { type: 'string', maxLength: 65536 },
        },
        body: { type: ['object', 'null'] },
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const query = request.query;
      const field = (name: 'token' | 'ref'): string | undefined => {
        const value = body[name] ?? query[name];
        if (value === undefined) return undefined;
        if (typeof value !== 'string' || value === '' || value.length > 1024) {
          throw new TesseraError('ERR_VALIDATION', `${name} must be a non-empty string`, {
            details: { field: name },
          });
        }
        return value;
      };
      const token = field('token');
      const ref = field('ref');
      if (token === undefined || ref === undefined) {
        throw new TesseraError('ERR_VALIDATION', `${token === undefined ? 'token' : 'ref'} is required`, {
          details: { field: token === undefined ? 'token' : 'ref' },
        });
      }
      const variables = triggerVariables(query, body);
      const inputs = triggerInputs(query, body);
      const id = request.params.id;
      const project = await findProjectByIdOrPath(coordinator, id);
      let authority: Awaited<ReturnType<typeof resolveTriggerToken>>;
      try {
        if (!project) throw invalidTriggerToken();
        authority = await resolveTriggerToken(coordinator, project, token);
      } catch (error) {
        // An unknown project answers as a wrong token does, so private projects cannot be probed.
        recordAuthFailure(context, request);
        throw error;
      }
      const pipeline = await createPipeline(coordinator, {
        project,
        user: authority.user,
        ref,
        source: authority.source,
        variables,
        ...(inputs === undefined ? {} : { inputs }),
      });
      return reply.status(201).send(await renderPipeline(coordinator, project, pipeline));
    },
  );
}
