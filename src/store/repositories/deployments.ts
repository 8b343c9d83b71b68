import { type Insertable, type Selectable, sql } from 'kysely';
import { nextProjectIid } from '../next-project-iid.js';
import type { Db } from '../open-store.js';
import { type Page, type PageWindow, readPage } from '../page-query.js';
import type { DeploymentsTable } from '../schema.js';

/** A stored deployment (a job's has its job's status, see {@link deploymentStatus}; a job-less one its own). */
export type DeploymentRecord = Selectable<DeploymentsTable>;

/** GitLab's deployment statuses. */
export type DeploymentStatus =
  | 'created'
  | 'running'
  | 'success'
  | 'failed'
  | 'canceled'
  | 'skipped'
  | 'blocked';

/** The deployment statuses, for validation. */
export const DEPLOYMENT_STATUSES: readonly DeploymentStatus[] = [
  'created',
  'running',
  'success',
  'failed',
  'canceled',
  'skipped',
  'blocked',
];

/**
 * A deployment's status from its job's, as GitLab syncs them: a manual job is a `blocked`
 * deployment, a job not yet running (pending, scheduled, waiting) a `created` one.
 */
export function deploymentStatus(jobStatus: string): DeploymentStatus {
  switch (jobStatus) {
    case 'running':
    case 'success':
    case 'failed':
    case 'canceled':
    case 'skipped':
      return jobStatus;
    case 'manual':
      return 'blocked';
    default:
      return 'created';
  }
}

/** The statuses a deployment made through the API may be given (GitLab's create and update). */
export const EXTERNAL_DEPLOYMENT_STATUSES = ['running', 'success', 'failed', 'canceled'] as const;

/** A status a deployment made through the API may be given. */
export type ExternalDeploymentStatus = (typeof EXTERNAL_DEPLOYMENT_STATUSES)[number];

/**
 * Whether a deployment may go from `from` to `to`, as GitLab's deployment state machine: `running`
 * only from `created`; `success`, `failed` and `canceled` from any other status.
 */
export function deploymentTransitionAllowed(from: DeploymentStatus, to: ExternalDeploymentStatus): boolean {
  return to === 'running' ? from === 'created' : from !== to;
}

/** The statuses a deployment ends in (they set its `finished_at`). */
const FINISHED_STATUSES: readonly DeploymentStatus[] = ['success', 'failed', 'canceled'];

/** The job statuses whose deployments have `status` (the inverse of {@link deploymentStatus}). */
function jobStatusesOf(status: DeploymentStatus): string[] {
  switch (status) {
    case 'blocked':
      return ['manual'];
    case 'created':
      return ['created', 'pending', 'scheduled', 'waiting_for_resource', 'preparing'];
    default:
      return [status];
  }
}

/** A deployment with what its answers need from its job and environment. */
export interface DeploymentRow extends Omit<DeploymentRecord, 'status' | 'updatedAt' | 'finishedAt'> {
  /** Its own status for a job-less deployment, else its job's as {@link deploymentStatus} maps it. */
  status: DeploymentStatus;
  /** The job's status; null for a job-less deployment. */
  jobStatus: string | null;
  /** The last change of the deployment: its job's end, start or creation, or its own last status change. */
  updatedAt: number;
  finishedAt: number | null;
  environmentName: string;
  environmentExternalUrl: string | null;
}

/** When a deployment last changed: its job's end or start, its own status change, or its creation. */
const UPDATED_AT = sql<number>`coalesce(jobs.finished_at, jobs.started_at, deployments.updated_at, deployments.created_at)`;
/** When a deployment ended: its job's end, or its own. */
const FINISHED_AT = sql<number | null>`coalesce(jobs.finished_at, deployments.finished_at)`;

/** Filters and order of `GET /projects/:id/deployments` (GitLab's parameters). */
export interface DeploymentQuery {
  environment?: string;
  status?: DeploymentStatus;
  updatedAfter?: number;
  updatedBefore?: number;
  orderBy?: 'id' | 'iid' | 'created_at' | 'updated_at' | 'ref';
  sort?: 'asc' | 'desc';
}

const ORDER_COLUMNS = {
  id: 'deployments.id',
  iid: 'deployments.iid',
  created_at: 'deployments.createdAt',
  ref: 'deployments.ref',
} as const;

/** Deployments of environments. */
export class DeploymentRepository {
  constructor(private readonly db: Db) {}

  /** Records a deployment with the next per-project `iid`. Call inside a transaction. */
  async create(input: Omit<Insertable<DeploymentsTable>, 'id' | 'iid'>): Promise<DeploymentRecord> {
    const iid = await nextProjectIid(this.db, 'deployments', input.projectId);
    return this.db
      .insertInto('deployments')
      .values({ ...input, iid })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  #rows() {
    return (
      this.db
        .selectFrom('deployments')
        .leftJoin('jobs', 'jobs.id', 'deployments.jobId')
        .innerJoin('environments', 'environments.id', 'deployments.environmentId')
        // Not selectAll: the deployment's own updated_at and finished_at give way to the expressions.
        .select([
          'deployments.id',
          'deployments.iid',
          'deployments.projectId',
          'deployments.environmentId',
          'deployments.jobId',
          'deployments.ref',
          'deployments.sha',
          'deployments.createdAt',
          'deployments.status',
          'deployments.userId',
          'deployments.tag',
          'jobs.status as jobStatus',
          FINISHED_AT.as('finishedAt'),
          UPDATED_AT.as('updatedAt'),
          'environments.name as environmentName',
          'environments.externalUrl as environmentExternalUrl',
        ])
    );
  }

  /** One page of a project's deployments, filtered and ordered as GitLab's list. */
  async page(projectId: number, query: DeploymentQuery, window: PageWindow): Promise<Page<DeploymentRow>> {
    const updatedAt = UPDATED_AT;
    let rows = this.#rows().where('deployments.projectId', '=', projectId);
    if (query.environment !== undefined) rows = rows.where('environments.name', '=', query.environment);
    const { status } = query;
    if (status !== undefined) {
      rows = rows.where((eb) =>
        eb.or([eb('deployments.status', '=', status), eb('jobs.status', 'in', jobStatusesOf(status))]),
      );
    }
    if (query.updatedAfter !== undefined) rows = rows.where(updatedAt, '>', query.updatedAfter);
    if (query.updatedBefore !== undefined) rows = rows.where(updatedAt, '<', query.updatedBefore);
    const direction = query.sort ?? 'asc';
    const orderBy = query.orderBy ?? 'id';
    rows =
      orderBy === 'updated_at'
        ? rows.orderBy(updatedAt, direction)
        : rows.orderBy(ORDER_COLUMNS[orderBy], direction);
    if (orderBy !== 'id') rows = rows.orderBy('deployments.id', direction);
    const page = await readPage(rows, window);
    return { items: page.items.map(toRow), total: page.total };
  }

  async findById(projectId: number, id: number): Promise<DeploymentRow | undefined> {
    const row = await this.#rows()
      .where('deployments.projectId', '=', projectId)
      .where('deployments.id', '=', id)
      .executeTakeFirst();
    return row && toRow(row);
  }

  /**
   * The environment's last successful deployment, of a job or not (GitLab's `last_deployment`: the
   * latest to finish).
   */
  async lastSuccessful(environmentId: number): Promise<DeploymentRow | undefined> {
    const row = await this.#rows()
      .where('deployments.environmentId', '=', environmentId)
      .where((eb) => eb.or([eb('jobs.status', '=', 'success'), eb('deployments.status', '=', 'success')]))
      .orderBy(FINISHED_AT, 'desc')
      .orderBy('deployments.id', 'desc')
      .executeTakeFirst();
    return row && toRow(row);
  }

  /**
   * The environment's finished deployments (success, failed, canceled) of the pipeline of its latest
   * finished one, as GitLab's `last_finished_deployment_group`: whose `on_stop` jobs stop it. When
   * the latest to finish was made through the API it has no pipeline, and, as in GitLab (whose
   * group is the finished jobs of that deployment's pipeline), there is no group and no stop job.
   */
  async lastFinishedGroup(environmentId: number): Promise<Array<{ jobId: number; pipelineId: number }>> {
    const finished = ['success', 'failed', 'canceled'];
    const latest = await this.db
      .selectFrom('deployments')
      .leftJoin('jobs', 'jobs.id', 'deployments.jobId')
      .select('jobs.pipelineId')
      .where('deployments.environmentId', '=', environmentId)
      .where((eb) => eb.or([eb('jobs.status', 'in', finished), eb('deployments.status', 'in', finished)]))
      .orderBy(FINISHED_AT, 'desc')
      .orderBy('deployments.id', 'desc')
      .executeTakeFirst();
    if (latest?.pipelineId == null) return [];
    return this.db
      .selectFrom('deployments')
      .innerJoin('jobs', 'jobs.id', 'deployments.jobId')
      .select(['jobs.id as jobId', 'jobs.pipelineId'])
      .where('deployments.environmentId', '=', environmentId)
      .where('jobs.pipelineId', '=', latest.pipelineId)
      .where('jobs.status', 'in', finished)
      .where('jobs.retried', '=', 0)
      .orderBy('jobs.id')
      .execute();
  }

  /**
   * Whether the environment had a deployment that changed (was created, or its job started or
   * finished, or its own status changed) at or after `since`: `stop_stale` leaves such an
   * environment alone (GitLab compares `deployments.updated_at`).
   */
  async activeSince(environmentId: number, since: number): Promise<boolean> {
    const row = await this.db
      .selectFrom('deployments')
      .leftJoin('jobs', 'jobs.id', 'deployments.jobId')
      .select('deployments.id')
      .where('deployments.environmentId', '=', environmentId)
      .where(UPDATED_AT, '>=', since)
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Moves a job-less deployment to `status` when GitLab's state machine allows it (see
   * {@link deploymentTransitionAllowed}), in one conditional UPDATE so that two requests at once
   * cannot both move it from the status they read. Answers the deployment as stored now, or
   * undefined when it had another status than `from` (or a job) by then.
   */
  async changeExternalStatus(
    id: number,
    from: DeploymentStatus,
    to: ExternalDeploymentStatus,
    now: number,
  ): Promise<DeploymentRecord | undefined> {
    return this.db
      .updateTable('deployments')
      .set({
        status: to,
        updatedAt: now,
        ...(FINISHED_STATUSES.includes(to) ? { finishedAt: now } : {}),
      })
      .where('id', '=', id)
      .where('jobId', 'is', null)
      .where('status', '=', from)
      .returningAll()
      .executeTakeFirst();
  }

  /** Deletes one deployment. */
  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('deployments').where('id', '=', id).execute();
  }
}

function toRow(
  row: Omit<DeploymentRecord, 'updatedAt' | 'finishedAt'> & {
    jobStatus: string | null;
    updatedAt: number;
    finishedAt: number | null;
    environmentName: string;
    environmentExternalUrl: string | null;
  },
): DeploymentRow {
  const status =
    row.jobId === null ? (row.status as DeploymentStatus) : deploymentStatus(row.jobStatus ?? 'created');
  // PostgreSQL answers bigint expressions as strings.
  return {
    ...row,
    status,
    updatedAt: Number(row.updatedAt),
    finishedAt: row.finishedAt === null ? null : Number(row.finishedAt),
  };
}
