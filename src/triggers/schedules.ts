import type { Coordinator } from '../coordinator/coordinator.js';
import { createPipeline } from '../coordinator/create-pipeline.js';
import { TesseraError } from '../errors.js';
import type { PipelineScheduleRecord } from '../store/repositories/pipeline-schedules.js';
import type { PipelineRecord } from '../store/repositories/pipelines.js';
import { isTimeZone, nextCronTime, parseCron } from './cron.js';

/**
 * When a schedule with `cron` in `timeZone` fires next after `after` (Unix ms).
 *
 * @throws TesseraError `ERR_SCHEDULE_CRON_INVALID` for a bad expression or an unknown zone.
 */
export function nextScheduleRun(cron: string, timeZone: string, after: number): number {
  if (!isTimeZone(timeZone)) {
    throw new TesseraError(
      'ERR_SCHEDULE_CRON_INVALID',
      `cron_timezone "${timeZone.slice(0, 100)}" is not an IANA time zone such as UTC or Europe/Berlin`,
      { details: { field: 'cron_timezone' } },
    );
  }
  return nextCronTime(parseCron(cron), timeZone, after);
}

/** A schedule's ref as a branch or tag name (GitLab takes `main` or `refs/heads/main`). */
export function scheduleRefName(ref: string): string {
  return ref.replace(/^refs\/(heads|tags)\//, '');
}

/** A schedule's pipeline inputs (name → value), empty when it has none. */
export function scheduleInputs(schedule: Pick<PipelineScheduleRecord, 'inputs'>): Record<string, unknown> {
  if (schedule.inputs === null) return {};
  const parsed: unknown = JSON.parse(schedule.inputs);
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : {};
}

/**
 * Starts the schedule's pipeline now, as its owner, with source `schedule` and the schedule's
 * variables and inputs, and records it among the schedule's pipelines.
 *
 * @throws TesseraError as `createPipeline` does (the owner's rights, the ref, the configuration).
 */
export async function runSchedule(
  coordinator: Coordinator,
  schedule: PipelineScheduleRecord,
): Promise<PipelineRecord> {
  const repos = coordinator.repos;
  const project = await repos.projects.findById(schedule.projectId);
  const owner = await repos.users.findById(schedule.ownerId);
  if (!project) throw new TesseraError('ERR_NOT_FOUND', `project ${schedule.projectId} not found`);
  if (owner?.state !== 'active') {
    throw new TesseraError('ERR_FORBIDDEN', `the owner of schedule ${schedule.id} is not an active user`);
  }
  const variables = Object.fromEntries(
    (await repos.pipelineSchedules.listVariables(schedule.id)).map((variable) => [
      variable.key,
      variable.value,
    ]),
  );
  const pipeline = await createPipeline(coordinator, {
    project,
    user: owner,
    ref: scheduleRefName(schedule.ref),
    source: 'schedule',
    variables,
    // A schedule without inputs leaves the configuration's defaults (and its own errors) alone.
    ...(schedule.inputs === null ? {} : { inputs: scheduleInputs(schedule) }),
  });
  await repos.pipelineSchedules.recordRun(schedule.id, pipeline.id);
  return pipeline;
}

/** What {@link fireDueSchedules} did, for logs and tests. */
export interface FiredSchedule {
  scheduleId: number;
  pipelineId: number | null;
  error: string | null;
}

/**
 * Fires every active schedule whose `next_run_at` has come. Each one is claimed first by moving
 * its `next_run_at` to the next time after now, on the condition that it still holds the value
 * read (`UPDATE … WHERE next_run_at = <old>`): of several coordinator nodes, exactly one wins and
 * starts the pipeline. The next time is counted from now, not from the missed one, so a node that
 * was down for a day fires a schedule once for all it missed, as GitLab does.
 */
export async function fireDueSchedules(coordinator: Coordinator, limit = 50): Promise<FiredSchedule[]> {
  const now = coordinator.clock();
  const fired: FiredSchedule[] = [];
  for (const schedule of await coordinator.repos.pipelineSchedules.listDue(now, limit)) {
    let next: number;
    try {
      next = nextScheduleRun(schedule.cron, schedule.cronTimezone, now);
    } catch {
      // Stored before a rule changed, or a zone this Node no longer knows: look again in a day.
      next = now + 24 * 3600_000;
    }
    if (!(await coordinator.repos.pipelineSchedules.claimRun(schedule.id, schedule.nextRunAt, next, now))) {
      continue;
    }
    try {
      const pipeline = await runSchedule(coordinator, schedule);
      fired.push({ scheduleId: schedule.id, pipelineId: pipeline.id, error: null });
    } catch (error) {
      const message = error instanceof TesseraError ? `${error.code}: ${error.message}` : 'internal error';
      fired.push({ scheduleId: schedule.id, pipelineId: null, error: message });
    }
  }
  return fired;
}
