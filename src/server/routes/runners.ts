import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import { createRunner } from '../../coordinator/create-runner.js';
import { deleteRunner } from '../../coordinator/delete-runner.js';
import { requireGroup, requireProject } from '../../coordinator/permissions.js';
import { resetRunnerToken } from '../../coordinator/reset-runner-token.js';
import { authenticateRunner } from '../../coordinator/runner-auth.js';
import { ownsRunner } from '../../coordinator/runner-permissions.js';
import { TesseraError } from '../../errors.js';
import {
  ONLINE_WITHIN_MS,
  type RunnerChanges,
  type RunnerListFilter,
  type RunnerRecord,
  STALE_AFTER_MS,
} from '../../store/repositories/runners.js';
import { authenticate, authenticateAdmin, recordAuthFailure } from '../authenticate.js';
import { pageWindow, setPaginationHeaders } from '../offset-pagination.js';
import { idParams, iso } from '../schemas.js';
import type { ServerContext } from '../server-context.js';

/** GitLab's runner status: `stale` first, then `never_contacted`, `online` or `offline`. */
function runnerStatus(runner: RunnerRecord, now: number): 'online' | 'offline' | 'stale' | 'never_contacted' {
  if (now - (runner.contactedAt ?? runner.createdAt) > STALE_AFTER_MS) return 'stale';
  if (runner.contactedAt === null) return 'never_contacted';
  return now - runner.contactedAt < ONLINE_WITHIN_MS ? 'online' : 'offline';
}

/** GitLab's runner shape. */
export function renderRunner(runner: RunnerRecord, now: number) {
  const status = runnerStatus(runner, now);
  return {
    id: runner.id,
    description: runner.description,
    runner_type: runner.runnerType,
    is_shared: runner.runnerType === 'instance_type',
    active: !runner.paused,
    paused: runner.paused,
    tag_list: runner.tagList,
    run_untagged: runner.runUntagged,
    access_level: runner.accessLevel,
    maximum_timeout: runner.maximumTimeout,
    group_id: runner.groupId,
    project_id: runner.projectId,
    online: status === 'online',
    status,
    contacted_at: iso(runner.contactedAt),
    created_at: iso(runner.createdAt),
  };
}

/** The runner settings that can be given at creation and changed later. */
interface RunnerSettingsBody {
  description?: string;
  tag_list?: string[] | string;
  run_untagged?: boolean;
  paused?: boolean;
  /** GitLab's deprecated inverse of `paused`. */
  active?: boolean;
  access_level?: 'not_protected' | 'ref_protected';
  maximum_timeout?: number;
}

interface RunnerBody extends RunnerSettingsBody {
  runner_type: 'instance_type' | 'group_type' | 'project_type';
  group_id?: number;
  project_id?: number;
}

const tag = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[^,\\s][^,]*$' } as const;

/**
 * The settings a runner has. Any other field (GitLab's `locked`, `maintenance_note`, …) is refused
 * with a 400 naming it (`additionalProperties: false`): a setting silently ignored would leave the
 * caller believing a runner is restricted when it is not.
 */
const runnerSettings = {
  description: { type: 'string', maxLength: 1024 },
  tag_list: {
    anyOf: [
      { type: 'array', maxItems: 64, items: tag },
      { type: 'string', maxLength: 4096 },
    ],
  },
  run_untagged: { type: 'boolean' },
  paused: { type: 'boolean' },
  active: { type: 'boolean' },
  access_level: { type: 'string', enum: ['not_protected', 'ref_protected'] },
  maximum_timeout: { type: 'integer', minimum: 600, maximum: 2592000 },
} as const;

/** `tag_list` as an array (GitLab also takes a comma-separated string). */
function tagsOf(tagList: string[] | string): string[] {
  return typeof tagList === 'string'
    ? tagList
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t !== '')
    : tagList;
}

/** `paused`, or the inverse of the deprecated `active`; both must agree when both are given. */
function pausedOf(body: RunnerSettingsBody): boolean | undefined {
  if (body.paused !== undefined && body.active !== undefined && body.paused === body.active) {
    throw new TesseraError('ERR_VALIDATION', 'body.active contradicts body.paused (send paused alone)', {
      details: { field: 'body.active' },
    });
  }
  return body.paused ?? (body.active === undefined ? undefined : !body.active);
}

const SCOPES_OWNED = ['active', 'paused', 'online', 'offline'] as const;
const SCOPES_ALL = [
  ...SCOPES_OWNED,
  'specific',
  'shared',
  'instance_type',
  'group_type',
  'project_type',
] as const;

interface RunnerFilters {
  page?: number;
  per_page?: number;
  scope?: string;
  type?: RunnerRecord['runnerType'];
  status?: 'online' | 'offline' | 'stale' | 'never_contacted' | 'active' | 'paused';
  paused?: boolean;
  tag_list?: string;
}

function listQuery(scopes: readonly string[]) {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      scope: { type: 'string', enum: scopes },
      type: { type: 'string', enum: ['instance_type', 'group_type', 'project_type'] },
      status: {
        type: 'string',
        enum: ['online', 'offline', 'stale', 'never_contacted', 'active', 'paused'],
      },
      paused: { type: 'boolean' },
      tag_list: { type: 'string', maxLength: 4096 },
      page: { type: 'integer', minimum: 1 },
      per_page: { type: 'integer', minimum: 1, maximum: 100 },
    },
  } as const;
}

type RunnerType = RunnerRecord['runnerType'];
type ContactStatus = 'online' | 'offline' | 'stale' | 'never_contacted';

/** GitLab's list filters (`scope`, `status`, `type`, `paused`, `tag_list`) as the store's filter. */
function listFilter(filters: RunnerFilters, now: number): RunnerListFilter {
  const types = new Set<RunnerType>(['instance_type', 'group_type', 'project_type']);
  const statuses: ContactStatus[] = [];
  let paused = filters.paused;
  const keep = (allowed: RunnerType[]) => {
    for (const type of [...types]) if (!allowed.includes(type)) types.delete(type);
  };
  for (const word of [filters.scope, filters.status]) {
    if (word === undefined) continue;
    if (word === 'active' || word === 'paused') {
      const wanted = word === 'paused';
      // `paused=true&scope=active` matches nothing, as both conditions must hold.
      if (paused !== undefined && paused !== wanted) keep([]);
      paused = wanted;
    } else if (word === 'specific') keep(['group_type', 'project_type']);
    else if (word === 'shared') keep(['instance_type']);
    else if (word === 'instance_type' || word === 'group_type' || word === 'project_type') keep([word]);
    else statuses.push(word as ContactStatus);
  }
  if (filters.type !== undefined) keep([filters.type]);
  return {
    now,
    types: [...types],
    ...(paused === undefined ? {} : { paused }),
    ...(statuses.length === 0 ? {} : { statuses }),
    ...(filters.tag_list === undefined ? {} : { tags: tagsOf(filters.tag_list) }),
  };
}

/**
 * `POST /user/runners` (and `POST /runners`, the same with a user token) creates a runner and
 * answers its token once; `POST /runners/verify` and `POST /runners/reset_authentication_token`
 * (runner token); `GET /runners` (the user's own), `GET /runners/all` (admin), `GET`, `PUT` and
 * `DELETE /runners/:id` (GitLab's runners API).
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
      // GitLab: a group runner is its group Owners' (who alone may change or delete it later).
      groupId = (await requireGroup(coordinator, user, body.group_id, ACCESS_LEVELS.owner)).group.id;
    } else {
      if (body.project_id === undefined) {
        throw new TesseraError('ERR_VALIDATION', 'body.project_id is required for a project_type runner', {
          details: { field: 'body.project_id' },
        });
      }
      projectId = (await requireProject(coordinator, user, body.project_id, ACCESS_LEVELS.maintainer)).project
        .id;
    }
    const tags = tagsOf(body.tag_list ?? []);
    const paused = pausedOf(body);
    const { runner, token } = await createRunner(coordinator, {
      runnerType: body.runner_type,
      groupId,
      projectId,
      description: body.description ?? '',
      tagList: tags,
      // GitLab: a runner without tags must run untagged jobs, or it would never run anything.
      runUntagged: body.run_untagged ?? true,
      maximumTimeout: body.maximum_timeout ?? null,
      ...(paused === undefined ? {} : { paused }),
      ...(body.access_level === undefined ? {} : { accessLevel: body.access_level }),
    });
    return { id: runner.id, token, token_expires_at: null };
  };

  const schema = {
    body: {
      type: 'object',
      required: ['runner_type'],
      additionalProperties: false,
      properties: {
        runner_type: { type: 'string', enum: ['instance_type', 'group_type', 'project_type'] },
        group_id: { type: 'integer', minimum: 1, maximum: 2147483647 },
        project_id: { type: 'integer', minimum: 1, maximum: 2147483647 },
        ...runnerSettings,
      },
    },
  } as const;

  app.post<{ Body: RunnerBody }>('/api/v4/user/runners', { schema }, async (request, reply) =>
    reply.status(201).send(await create(request)),
  );
  app.post<{ Body: RunnerBody }>('/api/v4/runners', { schema }, async (request, reply) =>
    reply.status(201).send(await create(request)),
  );

  const tokenBody = {
    body: {
      type: 'object',
      required: ['token'],
      properties: {
        token: { type: 'string', maxLength: 512 },
        // gitlab-runner sends its system id with the token; Tessera has no runner managers to file it under.
        system_id: { type: 'string', maxLength: 64 },
      },
    },
  } as const;

  const withAuthFailure = async <T>(request: FastifyRequest, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      recordAuthFailure(context, request);
      throw error;
    }
  };

  // GitLab: 200 with the runner's id and token for a valid token, 403 otherwise.
  app.post<{ Body: { token: string } }>('/api/v4/runners/verify', { schema: tokenBody }, async (request) => {
    const runner = await withAuthFailure(request, () => authenticateRunner(coordinator, request.body.token));
    return { id: runner.id, token: request.body.token, token_expires_at: null };
  });

  // GitLab: a runner replaces its own token by proving the current one; the answer (201) is the new token.
  app.post<{ Body: { token: string } }>(
    '/api/v4/runners/reset_authentication_token',
    { schema: tokenBody },
    async (request, reply) => {
      const { runner, token } = await withAuthFailure(request, () =>
        resetRunnerToken(coordinator, request.body.token),
      );
      request.log.info({ runnerId: runner.id }, 'runner token reset');
      return reply.status(201).send({ token, token_expires_at: null });
    },
  );

  app.get<{ Querystring: RunnerFilters }>(
    '/api/v4/runners',
    { schema: { querystring: listQuery(SCOPES_OWNED) } },
    async (request, reply) => {
      const user = await authenticate(context, request);
      const now = coordinator.clock();
      const filter = listFilter(request.query, now);
      // Instance runners belong to administrators, who list them with GET /runners/all (as GitLab).
      filter.types = (filter.types ?? []).filter((type) => type !== 'instance_type');
      if (!user.isAdmin) filter.ownedBy = user.id;
      const window = pageWindow(request.query);
      const page = await coordinator.repos.runners.page(filter, window, coordinator.store.dialect);
      setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
      return page.items.map((runner) => renderRunner(runner, now));
    },
  );

  app.get<{ Querystring: RunnerFilters }>(
    '/api/v4/runners/all',
    { schema: { querystring: listQuery(SCOPES_ALL) } },
    async (request, reply) => {
      await authenticateAdmin(context, request);
      const now = coordinator.clock();
      const window = pageWindow(request.query);
      const page = await coordinator.repos.runners.page(
        listFilter(request.query, now),
        window,
        coordinator.store.dialect,
      );
      setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
      return page.items.map((runner) => renderRunner(runner, now));
    },
  );

  /** The runner `id` when `user` may see it (instance runners: anyone signed in, as GitLab). */
  const findRunner = async (request: FastifyRequest<{ Params: { id: number } }>, manage: boolean) => {
    const user = await authenticate(context, request);
    const runner = await coordinator.repos.runners.findById(request.params.id);
    if (!runner) throw new TesseraError('ERR_NOT_FOUND', `runner ${request.params.id} not found`);
    if (await ownsRunner(coordinator, user, runner)) return runner;
    if (!manage && runner.runnerType === 'instance_type') return runner;
    throw new TesseraError(
      'ERR_FORBIDDEN',
      runner.runnerType === 'instance_type'
        ? 'instance runners are managed by administrators'
        : runner.runnerType === 'group_type'
          ? "a group runner is managed by the group's Owners"
          : "a project runner is managed by the project's Maintainers",
    );
  };

  app.get<{ Params: { id: number } }>(
    '/api/v4/runners/:id',
    { schema: { params: idParams } },
    async (request) => renderRunner(await findRunner(request, false), coordinator.clock()),
  );

  app.put<{ Params: { id: number }; Body: RunnerSettingsBody }>(
    '/api/v4/runners/:id',
    {
      schema: {
        params: idParams,
        body: { type: 'object', additionalProperties: false, properties: runnerSettings },
      },
    },
    async (request) => {
      const runner = await findRunner(request, true);
      const body = request.body;
      const changes: RunnerChanges = {};
      if (body.description !== undefined) changes.description = body.description;
      if (body.tag_list !== undefined) changes.tagList = [...new Set(tagsOf(body.tag_list))];
      if (body.run_untagged !== undefined) changes.runUntagged = body.run_untagged;
      const paused = pausedOf(body);
      if (paused !== undefined) changes.paused = paused;
      if (body.access_level !== undefined) changes.accessLevel = body.access_level;
      if (body.maximum_timeout !== undefined) changes.maximumTimeout = body.maximum_timeout;
      const updated = await coordinator.repos.runners.update(runner.id, changes);
      if (!updated) throw new TesseraError('ERR_NOT_FOUND', `runner ${runner.id} not found`);
      return renderRunner(updated, coordinator.clock());
    },
  );

  app.delete<{ Params: { id: number } }>(
    '/api/v4/runners/:id',
    { schema: { params: idParams } },
    async (request, reply) => {
      const runner = await findRunner(request, true);
      await deleteRunner(coordinator, runner.id);
      return reply.status(204).send();
    },
  );
}
