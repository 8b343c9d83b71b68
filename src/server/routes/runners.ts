import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import { createRunner } from '../../coordinator/create-runner.js';
import { requireGroup, requireProject } from '../../coordinator/permissions.js';
import { authenticateRunner } from '../../coordinator/runner-auth.js';
import { TesseraError } from '../../errors.js';
import type { RunnerRecord } from '../../store/repositories/runners.js';
import { authenticate, authenticateAdmin, recordAuthFailure } from '../authenticate.js';
import { idParams, iso } from '../schemas.js';
import type { ServerContext } from '../server-context.js';

/** GitLab's runner shape. */
export function renderRunner(runner: RunnerRecord, now: number) {
  const online = runner.contactedAt !== null && now - runner.contactedAt < 2 * 60 * 60 * 1000;
  return {
    id: runner.id,
    description: runner.description,
    runner_type: runner.runnerType,
    is_shared: runner.runnerType === 'instance_type',
    active: !runner.paused,
    paused: runner.paused,
    tag_list: runner.tagList,
    run_untagged: runner.runUntagged,
    maximum_timeout: runner.maximumTimeout,
    group_id: runner.groupId,
    project_id: runner.projectId,
    online,
    status: runner.contactedAt === null ? 'never_contacted' : online ? 'online' : 'offline',
    contacted_at: iso(runner.contactedAt),
    created_at: iso(runner.createdAt),
  };
}

interface RunnerBody {
  runner_type: 'instance_type' | 'group_type' | 'project_type';
  group_id?: number;
  project_id?: number;
  description?: string;
  tag_list?: string[] | string;
  run_untagged?: boolean;
  maximum_timeout?: number;
}

const tag = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^,\\s][^,]*$' } as const;

/**
 * `POST /user/runners` (and `POST /runners`, the same with a user token) creates a runner and
 * answers its token once; `POST /runners/verify`, `GET /runners/all`, `GET /runners/:id`, `DELETE /runners/:id`.
 */
export function registerRunnerRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;

  const create = async (request: FastifyRequest<{ Body: RunnerBody }>) => {
    const user = await authenticate(context, request);
    const body = request.body;
    let groupId: number | null = null;
    let projectId: number | null = null;
    if (body.runner_type === 'instance_type') {
      if (!user.isAdmin)
        throw new TesseraError('ERR_FORBIDDEN', 'instance runners are created by administrators');
    } else if (body.runner_type === 'group_type') {
      if (body.group_id === undefined) {
        throw new TesseraError('ERR_VALIDATION', 'body.group_id is required for a group_type runner', {
          details: { field: 'body.group_id' },
        });
      }
      groupId = (await requireGroup(coordinator, user, body.group_id, ACCESS_LEVELS.maintainer)).group.id;
    } else {
      if (body.project_id === undefined) {
        throw new TesseraError('ERR_VALIDATION', 'body.project_id is required for a project_type runner', {
          details: { field: 'body.project_id' },
        });
      }
      projectId = (await requireProject(coordinator, user, body.project_id, ACCESS_LEVELS.maintainer)).project
        .id;
    }
    const tags =
      typeof body.tag_list === 'string'
        ? body.tag_list
            .split(',')
            .map((t) => t.trim())
            .filter((t) => t !== '')
        : (body.tag_list ?? []);
    const { runner, token } = await createRunner(coordinator, {
      runnerType: body.runner_type,
      groupId,
      projectId,
      description: body.description ?? '',
      tagList: tags,
      // GitLab: a runner without tags must run untagged jobs, or it would never run anything.
      runUntagged: body.run_untagged ?? true,
      maximumTimeout: body.maximum_timeout ?? null,
    });
    return { id: runner.id, token, token_expires_at: null };
  };

  const schema = {
    body: {
      type: 'object',
      required: ['runner_type'],
      properties: {
        runner_type: { type: 'string', enum: ['instance_type', 'group_type', 'project_type'] },
        group_id: { type: 'integer', minimum: 1, maximum: 2147483647 },
        project_id: { type: 'integer', minimum: 1, maximum: 2147483647 },
        description: { type: 'string', maxLength: 1024 },
        tag_list: {
          anyOf: [
            { type: 'array', maxItems: 64, items: tag },
            { type: 'string', maxLength: 4096 },
          ],
        },
        run_untagged: { type: 'boolean' },
        paused: { type: 'boolean' },
        locked: { type: 'boolean' },
        access_level: { type: 'string', enum: ['not_protected', 'ref_protected'] },
        maximum_timeout: { type: 'integer', minimum: 600, maximum: 2592000 },
      },
    },
  } as const;

  app.post<{ Body: RunnerBody }>('/api/v4/user/runners', { schema }, async (request, reply) =>
    reply.status(201).send(await create(request)),
  );
  app.post<{ Body: RunnerBody }>('/api/v4/runners', { schema }, async (request, reply) =>
    reply.status(201).send(await create(request)),
  );

  app.post<{ Body: { token: string } }>(
    '/api/v4/runners/verify',
    {
      schema: {
        body: {
          type: 'object',
          required: ['token'],
          properties: { token: { type: 'string', maxLength: 512 } },
        },
      },
    },
    async (request) => {
      const runner = await authenticateRunner(coordinator, request.body.token).catch((error: unknown) => {
        recordAuthFailure(context, request);
        throw error;
      });
      return { id: runner.id, token: request.body.token, token_expires_at: null };
    },
  );

  app.get('/api/v4/runners/all', async (request) => {
    await authenticateAdmin(context, request);
    const now = coordinator.clock();
    return (await coordinator.repos.runners.list()).map((runner) => renderRunner(runner, now));
  });

  app.get<{ Params: { id: number } }>(
    '/api/v4/runners/:id',
    { schema: { params: idParams } },
    async (request) => {
      await authenticateAdmin(context, request);
      const runner = await coordinator.repos.runners.findById(request.params.id);
      if (!runner) throw new TesseraError('ERR_NOT_FOUND', `runner ${request.params.id} not found`);
      return renderRunner(runner, coordinator.clock());
    },
  );
}
