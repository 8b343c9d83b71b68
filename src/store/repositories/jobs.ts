import { type CompiledQuery, type Selectable, sql } from 'kysely';
import type { Db } from '../open-store.js';
import { type Page, type PageWindow, readPage } from '../page-query.js';
import type { JobsTable } from '../schema.js';

/** Every state a job can be in (GitLab's names). */
export type JobStatus =
  | 'created'
  | 'pending'
  | 'running'
  | 'success'
  | 'failed'
  | 'canceled'
  | 'skipped'
  | 'manual'
  | 'scheduled';

/** How far a job's log has come: bytes received, and a UTF-8 character's first bytes (hex) waiting for the rest. */
export interface TraceState {
  readonly bytes: number;
  readonly pending: string;
}

/** A stored job; `spec` is the planned job as JSON (`S` is its type). */
export interface JobRecord<S = unknown>
  extends Omit<
    Selectable<JobsTable>,
    | 'status'
    | 'allowFailure'
    | 'spec'
    | 'needs'
    | 'tags'
    | 'retried'
    | 'tokenHash'
    | 'requestTokenHash'
    | 'bridge'
  > {
  status: JobStatus;
  allowFailure: boolean;
  spec: S;
  needs: string[] | null;
  tags: string[];
  retried: boolean;
}

/** The fields a job gets when it is created. */
export type NewJob<S = unknown> = Omit<
  JobRecord<S>,
  | 'id'
  | 'runnerId'
  | 'failureReason'
  | 'exitCode'
  | 'queuedAt'
  | 'startedAt'
  | 'finishedAt'
  | 'leaseExpiresAt'
  | 'retried'
>;

/** Fields that change over a job's life. */
export type JobChanges = Partial<
  Pick<
    Selectable<JobsTable>,
    | 'runnerId'
    | 'tokenHash'
    | 'requestTokenHash'
    | 'timeoutSeconds'
    | 'failureReason'
    | 'exitCode'
    | 'queuedAt'
    | 'startedAt'
    | 'finishedAt'
    | 'leaseExpiresAt'
  > & { status: JobStatus; retried: boolean }
>;

/** A job without its planned spec (the large JSON column): what advancing and following a pipeline read. */
export type JobState = Omit<JobRecord, 'spec'>;

/** Every column of {@link JobState}: the table's but the spec and the token hashes. */
const STATE_COLUMNS = [
  'id',
  'pipelineId',
  'projectId',
  'name',
  'stage',
  'stageIndex',
  'status',
  'whenCondition',
  'allowFailure',
  'needs',
  'tags',
  'environmentName',
  'attempt',
  'retried',
  'userId',
  'runnerId',
  'timeoutSeconds',
  'failureReason',
  'exitCode',
  'createdAt',
  'queuedAt',
  'startedAt',
  'finishedAt',
  'leaseExpiresAt',
] as const satisfies ReadonlyArray<keyof JobsTable>;

function toJobState(
  row: Omit<Selectable<JobsTable>, 'spec' | 'tokenHash' | 'requestTokenHash' | 'bridge'>,
): JobState {
  return {
    ...row,
    status: row.status as JobStatus,
    allowFailure: row.allowFailure === 1,
    needs: row.needs === null ? null : (JSON.parse(row.needs) as string[]),
    tags: JSON.parse(row.tags) as string[],
    retried: row.retried === 1,
  };
}

function isBridgeSpec(spec: unknown): boolean {
  return typeof spec === 'object' && spec !== null && Boolean((spec as { trigger?: unknown }).trigger);
}

/** A `jobs` row (as read, keys camelCased) as the record the coordinator uses (no secret hashes). */
export function toJob<S>(row: Selectable<JobsTable>): JobRecord<S> {
  const { tokenHash: _t, requestTokenHash: _r, bridge: _b, spec, ...rest } = row;
  return { ...toJobState(rest), spec: JSON.parse(spec) as S };
}

function changesToRow(changes: JobChanges): Partial<Selectable<JobsTable>> {
  const { retried, ...rest } = changes;
  return { ...rest, ...(retried !== undefined ? { retried: retried ? 1 : 0 } : {}) };
}

/**
 * How many leading bytes of `data` form whole UTF-8 characters: a trailing lead byte whose
 * continuation bytes have not all arrived is left out (at most 3 bytes). Invalid sequences are
 * not held back; the decoder replaces them as usual.
 */
export function completeUtf8Length(data: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, data.length); back += 1) {
    const byte = data[data.length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: look further back
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? data.length - back : data.length;
  }
  return data.length;
}

/** Jobs and their logs. */
/** The compiled request-token lookup of each handle (see `findStateByRequestTokenHash`). */
const requestTokenLookups = new WeakMap<Db, CompiledQuery>();

export class JobRepository {
  constructor(private readonly db: Db) {}

  async create<S>(input: NewJob<S>): Promise<JobRecord<S>> {
    const row = await this.db
      .insertInto('jobs')
      .values({
        ...input,
        allowFailure: input.allowFailure ? 1 : 0,
        spec: JSON.stringify(input.spec),
        needs: input.needs === null ? null : JSON.stringify(input.needs),
        tags: JSON.stringify(input.tags),
        retried: 0,
        // A job with `trigger:` is a bridge: the coordinator runs it, runners never claim it.
        bridge: isBridgeSpec(input.spec) ? 1 : 0,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toJob<S>(row);
  }

  async findById<S>(id: number): Promise<JobRecord<S> | undefined> {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toJob<S>(row);
  }

  /** The job with its secret hashes, for the constant-time checks of the runner protocol. */
  async findWithHashes<S>(
    id: number,
  ): Promise<{ job: JobRecord<S>; tokenHash: string | null; requestTokenHash: string | null } | undefined> {
    const row = await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
    return row && { job: toJob<S>(row), tokenHash: row.tokenHash, requestTokenHash: row.requestTokenHash };
  }

  /** The job whose job token hashes to `hash` (the column is unique, so this is an index lookup). */
  async findByTokenHash<S>(hash: string): Promise<JobRecord<S> | undefined> {
    const row = await this.db.selectFrom('jobs').selectAll().where('tokenHash', '=', hash).executeTakeFirst();
    return row && toJob<S>(row);
  }

  /**
   * The id and status of the job whose on-demand request token hashes to `hash` (the column is
   * unique, so this is an index lookup). Two columns rather than the whole row, with the SQL
   * compiled once per handle: every on-demand token asks it, and reading and decoding the job's
   * spec was most of the statement's cost.
   */
  async findStateByRequestTokenHash(hash: string): Promise<{ id: number; status: JobStatus } | undefined> {
    let compiled = requestTokenLookups.get(this.db);
    if (!compiled) {
      compiled = this.db
        .selectFrom('jobs')
        .select(['id', 'status'])
        .where('requestTokenHash', '=', hash)
        .compile();
      requestTokenLookups.set(this.db, compiled);
    }
    const result = await this.db.executeQuery<{ id: number; status: string }>({
      ...compiled,
      parameters: [hash],
    });
    const row = result.rows[0];
    return row && { id: row.id, status: row.status as JobStatus };
  }

  /** Jobs of a pipeline in creation order, retried attempts included unless `latestOnly`. */
  async listByPipeline<S>(pipelineId: number, latestOnly = false): Promise<JobRecord<S>[]> {
    let query = this.db.selectFrom('jobs').selectAll().where('pipelineId', '=', pipelineId);
    if (latestOnly) query = query.where('retried', '=', 0);
    return (await query.orderBy('id').execute()).map((row) => toJob<S>(row));
  }

  /**
   * One page of jobs, read in SQL: a project's (`GET /projects/:id/jobs`, every attempt, newest
   * first) or a pipeline's (`GET …/pipelines/:id/jobs`, oldest first, the latest attempts unless
   * `includeRetried`), only those in `statuses` when given.
   */
  async page<S>(
    filter: {
      projectId: number;
      pipelineId?: number;
      statuses?: string[];
      includeRetried: boolean;
      /** Only bridge (`trigger:`) jobs, or only the others (GitLab lists them apart); both when absent. */
      bridge?: boolean;
    },
    window: PageWindow,
  ): Promise<Page<JobRecord<S>>> {
    let query = this.db.selectFrom('jobs').selectAll().where('projectId', '=', filter.projectId);
    if (filter.pipelineId !== undefined) query = query.where('pipelineId', '=', filter.pipelineId);
    if (filter.bridge !== undefined) query = query.where('bridge', '=', filter.bridge ? 1 : 0);
    if (!filter.includeRetried) query = query.where('retried', '=', 0);
    if (filter.statuses !== undefined)
      // No status at all matches nothing (`IN ()` is not SQL).
      query =
        filter.statuses.length === 0
          ? query.where(sql<boolean>`1 = 0`)
          : query.where('status', 'in', filter.statuses);
    query = query.orderBy('id', filter.pipelineId === undefined ? 'desc' : 'asc');
    const page = await readPage(query, window);
    return { items: page.items.map((row) => toJob<S>(row)), total: page.total };
  }

  /** As {@link listByPipeline}, without reading and parsing each job's spec. */
  async listStatesByPipeline(pipelineId: number, latestOnly = false): Promise<JobState[]> {
    let query = this.db.selectFrom('jobs').select(STATE_COLUMNS).where('pipelineId', '=', pipelineId);
    if (latestOnly) query = query.where('retried', '=', 0);
    return (await query.orderBy('id').execute()).map(toJobState);
  }

  /**
   * The latest attempts of the pipeline's jobs that `dependent` may download artifacts from, in
   * creation order: those named in `names`, or, when `names` is null, every job of an earlier stage
   * than `beforeStage`; never `dependent` itself. Filtered in SQL (a claim in a 100-job pipeline
   * read all 100 to keep the few of earlier stages).
   */
  async listStatesForDependencies(
    pipelineId: number,
    dependent: number,
    from: { names: readonly string[] } | { beforeStage: number },
  ): Promise<JobState[]> {
    if ('names' in from && from.names.length === 0) return [];
    let query = this.db
      .selectFrom('jobs')
      .select(STATE_COLUMNS)
      .where('pipelineId', '=', pipelineId)
      .where('retried', '=', 0)
      .where('id', '!=', dependent);
    query =
      'names' in from
        ? query.where('name', 'in', [...from.names])
        : query.where('stageIndex', '<', from.beforeStage);
    return (await query.orderBy('id').execute()).map(toJobState);
  }

  /** Ids of pending bridge (`trigger:`) jobs, oldest first: the coordinator starts them itself. */
  async listPendingBridgeIds(limit: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .select('id')
      .where('status', '=', 'pending')
      .where('bridge', '=', 1)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((row) => row.id);
  }

  /** Ids of pending jobs, oldest first (candidates for a runner). */
  async listPendingIds(limit: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .select('id')
      .where('status', '=', 'pending')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((row) => row.id);
  }

  /** Pending jobs, oldest first, without their specs (what a runner's eligibility depends on). */
  async listPending(limit: number): Promise<JobState[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .select(STATE_COLUMNS)
      .where('status', '=', 'pending')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(toJobState);
  }

  /**
   * Locks the oldest of `ids` that is still pending and answers its id. On PostgreSQL with
   * `SELECT … FOR UPDATE SKIP LOCKED`, so concurrent claimers on any node pass over each other's
   * rows instead of waiting; on SQLite the surrounding write transaction serialises claimers.
   * Call inside a transaction and claim the row with {@link transition}.
   */
  async lockOldestPending(
    ids: readonly number[],
    dialect: 'sqlite' | 'postgres',
  ): Promise<number | undefined> {
    if (ids.length === 0) return undefined;
    let query = this.db
      .selectFrom('jobs')
      .select('id')
      .where('id', 'in', [...ids])
      .where('status', '=', 'pending')
      .orderBy('id')
      .limit(1);
    if (dialect === 'postgres') query = query.forUpdate().skipLocked();
    return (await query.executeTakeFirst())?.id;
  }

  /** Running jobs whose lease ended before `now`. */
  async listExpiredLeases<S>(now: number): Promise<JobRecord<S>[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('status', '=', 'running')
      .where('leaseExpiresAt', '<', now)
      .orderBy('id')
      .execute();
    return rows.map((row) => toJob<S>(row));
  }

  async update(id: number, changes: JobChanges): Promise<void> {
    await this.db.updateTable('jobs').set(changesToRow(changes)).where('id', '=', id).execute();
  }

  /**
   * Applies `changes` only if the job is still in one of `from`; answers whether it did. This
   * compare-and-set is what keeps two runners (or a runner and a cancel) from both winning.
   */
  async transition(id: number, from: readonly JobStatus[], changes: JobChanges): Promise<boolean> {
    const result = await this.db
      .updateTable('jobs')
      .set(changesToRow(changes))
      .where('id', '=', id)
      .where('status', 'in', [...from])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Moves the running job `id` whose job token hashes to `tokenHash` with `changes` (the runner's
   * final report) and answers it as it is now, or undefined when no running job has that id and
   * token. The token check is the update's own condition: one statement instead of a read and an
   * update (the hash is of a random secret, so comparing it in SQL reveals nothing usable).
   */
  async finishRunning<S>(
    id: number,
    tokenHash: string,
    changes: JobChanges,
  ): Promise<JobRecord<S> | undefined> {
    const row = await this.db
      .updateTable('jobs')
      .set(changesToRow(changes))
      .where('id', '=', id)
      .where('status', '=', 'running')
      .where('tokenHash', '=', tokenHash)
      .returningAll()
      .executeTakeFirst();
    return row && toJob<S>(row);
  }

  /**
   * A runner's claim: moves the job from `pending` to `running` with `changes` (the same
   * compare-and-set as {@link transition}), caps its timeout at `maximumTimeout` (the runner's, when
   * it has one) and answers the job as it is now, or undefined when it was no longer pending. One
   * statement instead of a read and an update.
   */
  async claim<S>(
    id: number,
    changes: JobChanges,
    maximumTimeout: number | null,
  ): Promise<JobRecord<S> | undefined> {
    const row = await this.db
      .updateTable('jobs')
      .set({
        ...changesToRow(changes),
        ...(maximumTimeout === null
          ? {}
          : {
              timeoutSeconds: sql<number>`case when timeout_seconds > ${maximumTimeout} then ${maximumTimeout} else timeout_seconds end`,
            }),
      })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .returningAll()
      .executeTakeFirst();
    return row && toJob<S>(row);
  }

  /**
   * Appends `chunk` to the job's log and answers the new length in bytes. Bytes are counted as
   * received; a UTF-8 character cut at the end of a chunk waits in `pending` for its remaining
   * bytes. NUL bytes are dropped from the text (PostgreSQL text cannot hold them) but counted.
   * `state` is the log's {@link traceState} when the caller has just read it (one query less).
   */
  async appendTrace(jobId: number, chunk: Buffer | string, state?: TraceState | null): Promise<number> {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const row = state === undefined ? await this.traceState(jobId) : state;
    const data = row?.pending ? Buffer.concat([Buffer.from(row.pending, 'hex'), bytes]) : bytes;
    const cut = completeUtf8Length(data);
    const decoded = data.subarray(0, cut).toString('utf8');
    const text = decoded.includes('\u0000') ? decoded.replaceAll('\u0000', '') : decoded;
    const pending = data.subarray(cut).toString('hex');
    const total = Number(row?.bytes ?? 0) + bytes.length;
    if (row) {
      await this.db
        .updateTable('jobTraces')
        .set({ content: sql<string>`content || ${text}`, bytes: total, pending })
        .where('jobId', '=', jobId)
        .execute();
    } else {
      await this.db.insertInto('jobTraces').values({ jobId, content: text, bytes: total, pending }).execute();
    }
    return total;
  }

  /** How far the job's log has come; null before its first chunk. */
  async traceState(jobId: number): Promise<TraceState | null> {
    const row = await this.db
      .selectFrom('jobTraces')
      .select(['bytes', 'pending'])
      .where('jobId', '=', jobId)
      .executeTakeFirst();
    return row ? { bytes: Number(row.bytes), pending: row.pending } : null;
  }

  /** The job's log ('' when it has none). */
  async readTrace(jobId: number): Promise<string> {
    const row = await this.db
      .selectFrom('jobTraces')
      .select('content')
      .where('jobId', '=', jobId)
      .executeTakeFirst();
    return row?.content ?? '';
  }

  /** Deletes the job's log (erasing a job); answers whether it had one. */
  async deleteTrace(jobId: number): Promise<boolean> {
    const result = await this.db.deleteFrom('jobTraces').where('jobId', '=', jobId).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
