import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import type { Coordinator } from '../../coordinator/coordinator.js';
import { TesseraError } from '../../errors.js';
import { MAX_PIPELINE_INPUTS } from '../../pipeline/pipeline-inputs.js';
import type {
  PipelineScheduleChanges,
  PipelineScheduleRecord,
  PipelineScheduleVariableRecord,
} from '../../store/repositories/pipeline-schedules.js';
import type { ProjectRecord } from '../../store/repositories/projects.js';
import type { UserRecord } from '../../store/repositories/users.js';
import { repositories } from '../../store/repositories.js';
import { isUniqueViolation } from '../../store/unique-violation.js';
import { nextScheduleRun, runSchedule, scheduleInputs } from '../../triggers/schedules.js';
import { authenticateForProject } from '../authenticate.js';
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

const scheduleParams = {
  type: 'object',
  required: ['id', 'schedule_id'],
  properties: {
    ...projectParams.properties,
    schedule_id: { type: 'integer', minimum: 1, maximum: 2147483647 },
  },
} as const;
const variableParams = {
  type: 'object',
  required: ['id', 'schedule_id', 'key'],
  properties: { ...scheduleParams.properties, key: { type: 'string', minLength: 1, maxLength: 255 } },
} as const;

const scheduleProperties = {
  description: { type: 'string', minLength: 1, maxLength: 255 },
  ref: { type: 'string', minLength: 1, maxLength: 255 },
  cron: { type: 'string', minLength: 1, maxLength: 200 },
  cron_timezone: { type: 'string', minLength: 1, maxLength: 100 },
  active: { type: 'boolean' },
  // GitLab 17.11: [{name, value}], `destroy` (or `_destroy`) removes one on PUT.
  inputs: {
    type: 'array',
    maxItems: MAX_PIPELINE_INPUTS,
    items: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,255}$' },
        value: {},
        destroy: { type: 'boolean' },
        _destroy: { type: 'boolean' },
      },
    },
  },
} as const;
const variableProperties = {
  key: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9_]+$' },
  value: { type: 'string', maxLength: 65536 },
  variable_type: { type: 'string', enum: ['env_var', 'file'] },
} as const;

interface ScheduleBody {
  description?: string;
  ref?: string;
  cron?: string;
  cron_timezone?: string;
  active?: boolean;
  inputs?: { name: string; value?: unknown; destroy?: boolean; _destroy?: boolean }[];
}

/**
 * The inputs a schedule keeps after `given` (`null` for none): each item sets its input, or with
 * `destroy` removes it. An item without a value that removes nothing is a mistake to say.
 */
function changedInputs(
  current: Record<string, unknown>,
  given: NonNullable<ScheduleBody['inputs']>,
): string | null {
  // A null prototype keeps an input named __proto__ an ordinary entry.
  const inputs: Record<string, unknown> = Object.assign(Object.create(null), current);
  for (const item of given) {
    if (item.destroy === true || item._destroy === true) delete inputs[item.name];
    else if (item.value === undefined || item.value === null)
      throw new TesseraError('ERR_VALIDATION', `inputs: "${item.name}" needs a value (or destroy: true)`, {
        details: { field: 'inputs' },
      });
    else inputs[item.name] = item.value;
  }
  if (Object.keys(inputs).length > MAX_PIPELINE_INPUTS)
    throw new TesseraError('ERR_VALIDATION', `a schedule takes at most ${MAX_PIPELINE_INPUTS} inputs`, {
      details: { field: 'inputs' },
    });
  return Object.keys(inputs).length === 0 ? null : JSON.stringify(inputs);
}

function renderVariable(variable: PipelineScheduleVariableRecord) {
  return { key: variable.key, variable_type: variable.variableType, value: variable.value };
}

/** GitLab's pipeline schedule shape; the single-schedule answers add `variables`. */
async function renderSchedule(
  coordinator: Coordinator,
  schedule: PipelineScheduleRecord,
  withVariables = false,
) {
  const repos = coordinator.repos;
  const owner = await repos.users.findById(schedule.ownerId);
  const [lastId] = await repos.pipelineSchedules.listRunPipelineIds(schedule.id, 1);
  const last = lastId === undefined ? undefined : await repos.pipelines.findById(lastId);
  return {
    id: schedule.id,
    description: schedule.description,
    ref: schedule.ref,
    cron: schedule.cron,
    cron_timezone: schedule.cronTimezone,
    next_run_at: iso(schedule.nextRunAt),
    active: schedule.active,
    created_at: iso(schedule.createdAt),
    updated_at: iso(schedule.updatedAt),
    owner: owner ? renderUserBasic(owner, coordinator.urls.serverUrl) : null,
    last_pipeline: last
      ? {
          id: last.id,
          iid: last.iid,
          project_id: last.projectId,
          sha: last.sha,
          ref: last.ref,
          status: last.status,
          source: last.source,
        }
      : null,
    ...(withVariables
      ? {
          variables: (await repos.pipelineSchedules.listVariables(schedule.id)).map(renderVariable),
          inputs: Object.entries(scheduleInputs(schedule)).map(([name, value]) => ({ name, value })),
        }
      : {}),
  };
}

/**
 * GitLab's pipeline schedules API: `GET/POST /projects/:id/pipeline_schedules`,
 * `GET/PUT/DELETE …/:schedule_id`, `POST …/:schedule_id/play`, `POST …/:schedule_id/take_ownership`,
 * `GET …/:schedule_id/pipelines`, `POST …/:schedule_id/variables`, `PUT/DELETE …/variables/:key`.
 * Reporters read, developers create and play, the owner (or an admin) changes a schedule and its
 * variables, maintainers delete any and take ownership.
 */
export function registerPipelineScheduleRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;
  const base = '/api/v4/projects/:id/pipeline_schedules';

  const findSchedule = async (project: ProjectRecord, id: number) => {
    const schedule = await coordinator.repos.pipelineSchedules.findById(id);
    if (!schedule || schedule.projectId !== project.id) {
      throw new TesseraError('ERR_NOT_FOUND', `pipeline schedule ${id} not found`);
    }
    return schedule;
  };
  const requireOwner = (user: UserRecord, schedule: PipelineScheduleRecord) => {
    if (user.isAdmin || user.id === schedule.ownerId) return;
    throw new TesseraError(
      'ERR_FORBIDDEN',
      'only the owner of the schedule may change it; a maintainer can take ownership first (POST …/take_ownership)',
    );
  };
  /** The variable `key` of a schedule the caller owns (PUT and DELETE of one variable). */
  const findOwnedVariable = async (
    request: FastifyRequest<{ Params: { id: string; schedule_id: number; key: string } }>,
  ) => {
    const { user, project } = await authenticateForProject(context, request, ACCESS_LEVELS.developer);
    const schedule = await findSchedule(project, request.params.schedule_id);
    requireOwner(user, schedule);
    const variable = await coordinator.repos.pipelineSchedules.findVariable(schedule.id, request.params.key);
    if (!variable) throw new TesseraError('ERR_NOT_FOUND', `variable ${request.params.key} not found`);
    return variable;
  };

  app.get<{ Params: { id: string }; Querystring: PaginationQuery & { scope?: 'active' | 'inactive' } }>(
    base,
    {
      schema: {
        params: projectParams,
        querystring: {
          type: 'object',
          properties: { ...paginationProperties, scope: { type: 'string', enum: ['active', 'inactive'] } },
        },
      },
    },
    async (request, reply) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.reporter);
      const scope = request.query.scope;
      const window = pageWindow(request.query);
      const page = await coordinator.repos.pipelineSchedules.pageByProject(
        project.id,
        scope === undefined ? undefined : scope === 'active',
        window,
      );
      setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
      return Promise.all(page.items.map((schedule) => renderSchedule(coordinator, schedule)));
    },
  );

  app.post<{
    Params: { id: string };
    Body: Required<Pick<ScheduleBody, 'description' | 'ref' | 'cron'>> & ScheduleBody;
  }>(
    base,
    {
      schema: {
        params: projectParams,
        body: { type: 'object', required: ['description', 'ref', 'cron'], properties: scheduleProperties },
      },
    },
    async (request, reply) => {
      const { user, project } = await authenticateForProject(context, request, ACCESS_LEVELS.developer);
      const body = request.body;
      const now = coordinator.clock();
      const timeZone = body.cron_timezone ?? 'UTC';
      const schedule = await coordinator.repos.pipelineSchedules.create({
        projectId: project.id,
        ownerId: user.id,
        description: body.description,
        ref: body.ref,
        cron: body.cron.trim(),
        cronTimezone: timeZone,
        active: body.active ?? true,
        nextRunAt: nextScheduleRun(body.cron, timeZone, now),
        createdAt: now,
        updatedAt: now,
        inputs: body.inputs === undefined ? null : changedInputs({}, body.inputs),
      });
      return reply.status(201).send(await renderSchedule(coordinator, schedule, true));
    },
  );

  app.get<{ Params: { id: string; schedule_id: number } }>(
    `${base}/:schedule_id`,
    { schema: { params: scheduleParams } },
    async (request) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.reporter);
      return renderSchedule(coordinator, await findSchedule(project, request.params.schedule_id), true);
    },
  );

  app.put<{ Params: { id: string; schedule_id: number }; Body: ScheduleBody }>(
    `${base}/:schedule_id`,
    { schema: { params: scheduleParams, body: { type: 'object', properties: scheduleProperties } } },
    async (request) => {
      const { user, project } = await authenticateForProject(context, request, ACCESS_LEVELS.developer);
      const schedule = await findSchedule(project, request.params.schedule_id);
      requireOwner(user, schedule);
      const body = request.body;
      const now = coordinator.clock();
      const changes: PipelineScheduleChanges = { updatedAt: now };
      if (body.description !== undefined) changes.description = body.description;
      if (body.ref !== undefined) changes.ref = body.ref;
      if (body.cron !== undefined) changes.cron = body.cron.trim();
      if (body.cron_timezone !== undefined) changes.cronTimezone = body.cron_timezone;
      if (body.active !== undefined) changes.active = body.active;
      if (body.inputs !== undefined) changes.inputs = changedInputs(scheduleInputs(schedule), body.inputs);
      // A new timing, or a schedule switched back on, counts from now (nothing missed is fired).
      if (
        body.cron !== undefined ||
        body.cron_timezone !== undefined ||
        (body.active === true && !schedule.active)
      ) {
        changes.nextRunAt = nextScheduleRun(
          changes.cron ?? schedule.cron,
          changes.cronTimezone ?? schedule.cronTimezone,
          now,
        );
      }
      const updated = await coordinator.repos.pipelineSchedules.update(schedule.id, changes);
      return renderSchedule(coordinator, updated, true);
    },
  );

  app.delete<{ Params: { id: string; schedule_id: number } }>(
    `${base}/:schedule_id`,
    { schema: { params: scheduleParams } },
    async (request, reply) => {
      const { user, project, level } = await authenticateForProject(
        context,
        request,
        ACCESS_LEVELS.developer,
      );
      const schedule = await findSchedule(project, request.params.schedule_id);
      if (level < ACCESS_LEVELS.maintainer) requireOwner(user, schedule);
      await coordinator.store.transaction((tx) => repositories(tx).pipelineSchedules.delete(schedule.id));
      return reply.status(204).send();
    },
  );

  app.post<{ Params: { id: string; schedule_id: number } }>(
    `${base}/:schedule_id/take_ownership`,
    { schema: { params: scheduleParams } },
    async (request, reply) => {
      const { user, project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
      const schedule = await findSchedule(project, request.params.schedule_id);
      const updated = await coordinator.repos.pipelineSchedules.update(schedule.id, {
        ownerId: user.id,
        updatedAt: coordinator.clock(),
      });
      return reply.status(201).send(await renderSchedule(coordinator, updated, true));
    },
  );

  app.post<{ Params: { id: string; schedule_id: number } }>(
    `${base}/:schedule_id/play`,
    { schema: { params: scheduleParams } },
    async (request, reply) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.developer);
      const schedule = await findSchedule(project, request.params.schedule_id);
      // Runs now as the schedule's owner; `next_run_at` stays as it is (GitLab).
      await runSchedule(coordinator, schedule);
      return reply.status(201).send({ message: '201 Created' });
    },
  );

  app.get<{ Params: { id: string; schedule_id: number }; Querystring: PaginationQuery }>(
    `${base}/:schedule_id/pipelines`,
    { schema: { params: scheduleParams, querystring: { type: 'object', properties: paginationProperties } } },
    async (request, reply) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.reporter);
      const schedule = await findSchedule(project, request.params.schedule_id);
      const window = pageWindow(request.query);
      const page = await coordinator.repos.pipelineSchedules.pageRunPipelineIds(schedule.id, window);
      setPaginationHeaders(request, reply, coordinator.urls.serverUrl, window, page.total);
      const out = [];
      for (const id of page.items) {
        const pipeline = await coordinator.repos.pipelines.findById(id);
        if (pipeline) out.push(await renderPipeline(coordinator, project, pipeline));
      }
      return out;
    },
  );

  app.post<{
    Params: { id: string; schedule_id: number };
    Body: { key: string; value: string; variable_type?: string };
  }>(
    `${base}/:schedule_id/variables`,
    {
      schema: {
        params: scheduleParams,
        body: { type: 'object', required: ['key', 'value'], properties: variableProperties },
      },
    },
    async (request, reply) => {
      const { user, project } = await authenticateForProject(context, request, ACCESS_LEVELS.developer);
      const schedule = await findSchedule(project, request.params.schedule_id);
      requireOwner(user, schedule);
      try {
        const created = await coordinator.repos.pipelineSchedules.createVariable({
          scheduleId: schedule.id,
          key: request.body.key,
          value: request.body.value,
          variableType: request.body.variable_type ?? 'env_var',
        });
        return reply.status(201).send(renderVariable(created));
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new TesseraError('ERR_CONFLICT', `the schedule already has a variable ${request.body.key}`);
        }
        throw error;
      }
    },
  );

  app.put<{
    Params: { id: string; schedule_id: number; key: string };
    Body: { value?: string; variable_type?: string };
  }>(
    `${base}/:schedule_id/variables/:key`,
    {
      schema: {
        params: variableParams,
        body: {
          type: 'object',
          properties: { value: variableProperties.value, variable_type: variableProperties.variable_type },
        },
      },
    },
    async (request) => {
      const variable = await findOwnedVariable(request);
      const updated = await coordinator.repos.pipelineSchedules.updateVariable(variable.id, {
        ...(request.body.value === undefined ? {} : { value: request.body.value }),
        ...(request.body.variable_type === undefined ? {} : { variableType: request.body.variable_type }),
      });
      return renderVariable(updated);
    },
  );

  app.delete<{ Params: { id: string; schedule_id: number; key: string } }>(
    `${base}/:schedule_id/variables/:key`,
    { schema: { params: variableParams } },
    async (request) => {
      const variable = await findOwnedVariable(request);
      await coordinator.repos.pipelineSchedules.deleteVariable(variable.id);
      return renderVariable(variable);
    },
  );
}
