import { type Selectable, sql } from 'kysely';
import { nextProjectIid } from '../next-project-iid.js';
import type { Db } from '../open-store.js';
import { type Page, type PageWindow, readPage } from '../page-query.js';
import type { DeploymentsTable } from '../schema.js';

/** A stored deployment (its status is its job's, see {@link deploymentStatus}). */
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
export interface DeploymentRow extends DeploymentRecord {
  jobStatus: string;
  /** The last change of the deployment: its job's end, start or creation. */
  updatedAt: number;
  finishedAt: number | null;
  environmentName: string;
  environmentExternalUrl: string | null;
}

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
  async create(input: Omit<DeploymentRecord, 'id' | 'iid'>): Promise<DeploymentRecord> {
    const iid = await nextProjectIid(this.db, 'deployments', input.projectId);
    return this.db
      .insertInto('deployments')
      .values({ ...input, iid })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  #rows() {
    return this.db
      .selectFrom('deployments')
      .innerJoin('jobs', 'jobs.id', 'deployments.jobId')
      .innerJoin('environments', 'environments.id', 'deployments.environmentId')
      .selectAll('deployments')
      .select([
        'jobs.status as jobStatus',
        'jobs.finishedAt as finishedAt',
        sql<number>`coalesce(jobs.finished_at, jobs.started_at, deployments.created_at)`.as('updatedAt'),
        'environments.name as environmentName',
        'environments.externalUrl as environmentExternalUrl',
      ]);
  }

  /** One page of a project's deployments, filtered and ordered as GitLab's list. */
  async page(projectId: number, query: DeploymentQuery, window: PageWindow): Promise<Page<DeploymentRow>> {
    const updatedAt = sql<number>`coalesce(jobs.finished_at, jobs.started_at, deployments.created_at)`;
    let rows = this.#rows().where('deployments.projectId', '=', projectId);
    if (query.environment !== undefined) rows = rows.where('environments.name', '=', query.environment);
    if (query.status !== undefined) rows = rows.where('jobs.status', 'in', jobStatusesOf(query.status));
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

  /** The environment's last successful deployment (GitLab's `last_deployment`: the latest to finish). */
  async lastSuccessful(environmentId: number): Promise<DeploymentRow | undefined> {
    const row = await this.#rows()
      .where('deployments.environmentId', '=', environmentId)
      .where('jobs.status', '=', 'success')
      .orderBy('jobs.finishedAt', 'desc')
      .orderBy('deployments.id', 'desc')
      .executeTakeFirst();
    return row && toRow(row);
  }

  /**
   * The environment's finished deployments (success, failed, canceled) of the pipeline of its latest
   * finished one, as GitLab's `last_finished_deployment_group`: whose `on_stop` jobs stop it.
   */
  async lastFinishedGroup(environmentId: number): Promise<Array<{ jobId: number; pipelineId: number }>> {
    const finished = ['success', 'failed', 'canceled'];
    const latest = await this.db
      .selectFrom('deployments')
      .innerJoin('jobs', 'jobs.id', 'deployments.jobId')
      .select('jobs.pipelineId')
      .where('deployments.environmentId', '=', environmentId)
      .where('jobs.status', 'in', finished)
      .orderBy('jobs.finishedAt', 'desc')
      .orderBy('deployments.id', 'desc')
      .executeTakeFirst();
    if (!latest) return [];
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
   * Whether the environment had a deployment whose job did anything (was created, started or
   * finished) at or after `since`: `stop_stale` leaves such an environment alone.
   */
  async activeSince(environmentId: number, since: number): Promise<boolean> {
    const row = await this.db
      .selectFrom('deployments')
      .innerJoin('jobs', 'jobs.id', 'deployments.jobId')
      .select('deployments.id')
      .where('deployments.environmentId', '=', environmentId)
      .where(sql<number>`coalesce(jobs.finished_at, jobs.started_at, deployments.created_at)`, '>=', since)
      .executeTakeFirst();
    return row !== undefined;
  }
}

function toRow(row: DeploymentRecord & Omit<DeploymentRow, keyof DeploymentRecord>): DeploymentRow {
  // PostgreSQL answers bigint expressions as strings.
  return { ...row, updatedAt: Number(row.updatedAt) };
}
