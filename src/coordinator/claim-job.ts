import { type RawBuilder, type Selectable, sql } from 'kysely';
import type { PlannedJob } from '../pipeline/plan.js';
import type { Db, StoreDialect } from '../store/open-store.js';
import { PREPARED } from '../store/prepared-statements.js';
import type { GroupRecord } from '../store/repositories/groups.js';
import { type JobRecord, toJob } from '../store/repositories/jobs.js';
import { type PipelineRecord, toPipeline } from '../store/repositories/pipelines.js';
import { type ProjectRecord, toProject } from '../store/repositories/projects.js';
import type { RunnerRecord } from '../store/repositories/runners.js';
import { toUser, type UserRecord } from '../store/repositories/users.js';
import { withVariableFlags } from '../store/repositories/variables.js';
import { repositories } from '../store/repositories.js';
import type {
  CiVariablesTable,
  JobsTable,
  PipelinesTable,
  ProjectsTable,
  ProjectVariablesTable,
  UsersTable,
} from '../store/schema.js';
import { advancePipeline } from './advance-pipeline.js';
import type { Coordinator } from './coordinator.js';
import type { StoredVariables } from './create-pipeline.js';
import { finishJob } from './finish-job.js';
import { buildJobPayload, type JobPayload, JobPreparationError } from './job-payload.js';
import { promoteScheduledJobs } from './promote-scheduled-jobs.js';
import { resourceGroupAllows } from './resource-groups.js';
import { generateSecret, TOKEN_PREFIXES } from './secret-token.js';
import { type JobRecords, loadJobRecords } from './token-context.js';

/**
 * Puts a job just claimed back in the queue, when the runner that asked for it hung up before the
 * answer could be sent (it would otherwise wait for its lease to expire). Tokens minted for it are
 * never delivered; their audit rows stay.
 */
export async function releaseClaim(coordinator: Coordinator, jobId: number): Promise<void> {
  const now = coordinator.clock();
  await coordinator.store.transaction(async (tx) => {
    const released = await repositories(tx).jobs.transition(jobId, ['running'], {
      status: 'pending',
      runnerId: null,
      startedAt: null,
      tokenHash: null,
      requestTokenHash: null,
      leaseExpiresAt: null,
    });
    if (released) await advancePipeline(tx, (await repositories(tx).jobs.findById(jobId))!.pipelineId, now);
  });
  coordinator.notifyJobs();
}

/**
 * Locks the first pending job `runner` may take and answers its id, or undefined when there is
 * none. Eligibility is matched in the query, as GitLab's pending-build queue does, so the first
 * eligible job is found whatever is queued ahead of it: the runner's scope (a project runner its
 * project, a group runner its group and every subgroup, an instance runner every project), its
 * tags (a tagged job needs all its tags on the runner, an untagged one needs `run_untagged`) and
 * its `access_level` (a `ref_protected` runner takes only jobs of pipelines on protected refs, so
 * a branch anyone may push never reaches a deploy runner). Instance and group runners follow
 * GitLab's fair usage: the job of the project with the fewest running jobs first, then the
 * oldest. The queue is read from `pending_jobs` and `running_jobs` (kept by triggers on `jobs`;
 * see migration 0020), so a claim reads a few dozen bytes per queued job, not a job row. Call
 * inside a transaction; on PostgreSQL the row is taken `FOR UPDATE SKIP LOCKED`, so
 * concurrent claimers on any node pass over each other's rows instead of waiting (on SQLite the
 * write transaction serialises claimers). `excluded` are jobs this claim already gave up on.
 */
export async function lockFirstEligibleJob(
  tx: Db,
  runner: RunnerRecord,
  dialect: StoreDialect,
  excluded: readonly number[] = [],
): Promise<number | undefined> {
  return (await lockFirstEligible(tx, runner, dialect, excluded))?.id;
}

/** A job locked for a claim, with the resource group it belongs to (null for none). */
interface LockedJob {
  id: number;
  resourceGroupId: number | null;
}

/** The SQL that matches the queued jobs a runner may take (see {@link lockFirstEligibleJob}). */
interface Eligibility {
  /** `runner_groups(id) as (…)`: a group runner's group and its subgroups (a recursive CTE), or null. */
  groups: RawBuilder<unknown> | null;
  /** Joins the conditions need (`pipelines pl` for a `ref_protected` runner). */
  join: RawBuilder<unknown>;
  /** The conditions on `pending_jobs q`. */
  where: RawBuilder<unknown>;
  /** A project runner takes its project's jobs oldest first; the others follow fair usage. */
  fair: boolean;
}

/** The eligibility of `runner`'s jobs as SQL, or undefined when it may take none. */
function eligibility(
  runner: RunnerRecord,
  dialect: StoreDialect,
  excluded: readonly number[],
): Eligibility | undefined {
  if (runner.paused) return undefined;
  // A bridge (`trigger:`) job is the coordinator's to run, never a runner's.
  const conditions: RawBuilder<unknown>[] = [sql`q.bridge = 0`];
  let groups: RawBuilder<unknown> | null = null;
  if (runner.runnerType === 'project_type') {
    if (runner.projectId === null) return undefined;
    conditions.push(sql`q.project_id = ${runner.projectId}`);
  } else if (runner.runnerType === 'group_type') {
    if (runner.groupId === null) return undefined;
    groups = sql`runner_groups(id) as (
      select id from groups where id = ${runner.groupId}
      union all select g.id from groups g join runner_groups rg on g.parent_id = rg.id)`;
    // Written so that PostgreSQL hashes the group's projects once (a hashed subplan) rather than
    // joining: a join is planned from the queue's row estimate, and a stale one (a queue that
    // filled since the last analyze) made it probe `projects` once for every queued job.
    conditions.push(
      sql`(q.project_id in (select p.id from projects p where p.namespace_id in (select id from runner_groups))
        or q.project_id is null)`,
    );
  }
  // Tags are JSON arrays, `[]` when there are none (as the jobs repository writes them).
  const tagMatches: RawBuilder<unknown>[] = [];
  if (runner.runUntagged) tagMatches.push(sql`q.tags = '[]'`);
  if (runner.tagList.length > 0) {
    const tags = JSON.stringify(runner.tagList);
    tagMatches.push(
      dialect === 'postgres'
        ? sql`(q.tags <> '[]' and q.tags::jsonb <@ ${tags}::jsonb)`
        : sql`(q.tags <> '[]' and not exists (select 1 from json_each(q.tags) t where t.value not in (select value from json_each(${tags}))))`,
    );
  }
  if (tagMatches.length === 0) return undefined;
  conditions.push(sql`(${sql.join(tagMatches, sql` or `)})`);
  if (excluded.length > 0) conditions.push(sql`q.job_id not in (${sql.join([...excluded])})`);
  const join =
    runner.accessLevel === 'ref_protected'
      ? sql`join pipelines pl on pl.id = q.pipeline_id and pl.ref_protected = 1`
      : sql``;
  return {
    groups,
    join,
    where: sql.join(conditions, sql` and `),
    fair: runner.runnerType !== 'project_type',
  };
}

/**
 * The orders a claim reads the queue in. GitLab's fair usage for instance and group runners puts
 * the job of the project with the fewest running jobs first, then the oldest; the full order sorts
 * every eligible pending job, so a claim first looks for the oldest eligible job of a project
 * running nothing (the full order's answer whenever there is one, read in queue order and
 * stopping at the first match) and sorts only when every project with an eligible job runs
 * something. A project runner takes its project's jobs oldest first.
 */
type QueueOrder = 'oldest' | 'idle' | 'fair';

/**
 * The eligible queued jobs (`job_id`, `running`) in `order`. They are read from the slim queue
 * tables alone; only the job found is read from `jobs` (see {@link lockFirstOf}).
 */
function queueIn(eligible: Eligibility, order: QueueOrder): RawBuilder<unknown> {
  const { join, where } = eligible;
  if (order === 'fair') {
    return sql`select q.job_id, coalesce(rc.running, 0) as running from pending_jobs q ${join}
      left join (select project_id, count(*) as running from running_jobs group by project_id) rc
        on rc.project_id = q.project_id
      where ${where} order by coalesce(rc.running, 0), q.job_id`;
  }
  const idle = order === 'idle' ? sql`and q.project_id not in (select project_id from running_jobs)` : sql``;
  return sql`select q.job_id, 0 as running from pending_jobs q ${join} where ${where} ${idle} order by q.job_id`;
}

/**
 * The first job of the queue in `order` ({@link queueIn}) that no other claim holds, locked (`FOR UPDATE SKIP LOCKED` on
 * PostgreSQL, so concurrent claimers on any node pass over each other's rows instead of waiting),
 * with its resource group: `jobs` is read for that job alone, and its `pending` status checked
 * again once locked. `gate` conditions the whole look (the one-statement claim's runner check).
 */
function lockFirstOf(
  eligible: Eligibility,
  order: QueueOrder,
  dialect: StoreDialect,
  gate: RawBuilder<unknown>,
): RawBuilder<unknown> {
  const lock = dialect === 'postgres' ? sql`for update of j skip locked` : sql``;
  // The same order as the queue's own, so that the planner reads the queue in it and stops at
  // the first job it can lock, instead of joining every queued job and sorting them again.
  const by = order === 'fair' ? sql`s.running, s.job_id` : sql`s.job_id`;
  // job_resource_groups is keyed by job id: one index probe for the row found, none for the others.
  return sql`select j.id, (select r.resource_group_id from job_resource_groups r where r.job_id = j.id) as rg
    from (${queueIn(eligible, order)}) s join jobs j on j.id = s.job_id
    where j.status = 'pending' and ${gate} order by ${by} limit 1 ${lock}`;
}

/**
 * {@link lockFirstEligibleJob}, answering the job's resource group too, read in the same
 * statement (most jobs have none, and the claim then needs no look at resource groups at all).
 */
async function lockFirstEligible(
  tx: Db,
  runner: RunnerRecord,
  dialect: StoreDialect,
  excluded: readonly number[],
): Promise<LockedJob | undefined> {
  const eligible = eligibility(runner, dialect, excluded);
  if (eligible === undefined) return undefined;
  const prefix = eligible.groups === null ? sql`` : sql`with recursive ${eligible.groups} `;
  // Jobs given up on are inlined (one parameter each): those rare texts are not worth a name.
  const prepared = excluded.length === 0 ? PREPARED : sql``;
  const first = async (order: QueueOrder) => {
    const { rows } = await sql<{ id: number; rg: number | null }>`${prepared}${prefix}${lockFirstOf(
      eligible,
      order,
      dialect,
      sql`1 = 1`,
    )}`.execute(tx);
    const row = rows[0];
    if (row === undefined) return undefined;
    const group = row.rg;
    return { id: Number(row.id), resourceGroupId: group === null ? null : Number(group) };
  };
  if (!eligible.fair) return first('oldest');
  return (await first('idle')) ?? first('fair');
}

/** A job claimed, with the records its payload is built from that the claim read with it. */
interface ClaimedJob {
  job: JobRecord<PlannedJob>;
  pipeline: PipelineRecord | undefined;
  project?: ProjectRecord | undefined;
  user?: UserRecord | null;
  /** The project's group lineage, whether another project held its path, the user's role. */
  lineage?: GroupRecord[];
  pathReused?: boolean;
  accessLevel?: number | null;
  /** The instance's, the lineage's and the project's CI/CD variables. */
  variables?: StoredVariables;
}

/** The row of {@link claimInOneStatement}; the records are `row_to_json` objects, keys camelCased. */
interface OneStatementRow {
  runnerOk: number | string;
  picked: number | string | null;
  job: Selectable<JobsTable> | null;
  pipeline: Selectable<PipelinesTable> | null;
  project: Selectable<ProjectsTable> | null;
  jobUser: Selectable<UsersTable> | null;
  lineage: GroupRecord[] | null;
  pathReused: boolean;
  accessLevel: number | string | null;
  inheritedVariables: Selectable<CiVariablesTable>[] | null;
  projectVariables: Selectable<ProjectVariablesTable>[] | null;
}

/**
 * The common claim on PostgreSQL in one statement, outside any transaction: the runner's row is
 * checked (still this token, not paused, the scope, tags and access level the node knows) and
 * locked `FOR SHARE`, the first eligible job locked `FOR UPDATE SKIP LOCKED` (idle projects
 * first, then fair usage), moved from `pending` to `running` with the runner's `maximum_timeout`,
 * and answered with its pipeline, project, user, the project's group lineage, whether another
 * project held its path, the user's role and the CI/CD variables of the instance, the groups and
 * the project (what the payload and the ID token's claims need).
 * That was six statements (`begin`, the runner, the job, the update, the pipeline, `commit`)
 * and seven reads after them (project, user, group, path history, memberships, the two kinds of
 * variables); each
 * is a round trip on a pooled connection, and a dispatch is bound by its connections' time.
 * Answers null when the runner matches but no job is eligible, or undefined when the claim must
 * take the general path: the runner's row differs from the node's copy (reset, deleted, paused,
 * changed), or the job found belongs to a resource group. A statement is atomic, and the row
 * locks hold until it ends, as they held until the transaction's end before.
 */
async function claimInOneStatement(
  coordinator: Coordinator,
  runner: RunnerRecord,
  tokenHash: string | undefined,
  changes: {
    runnerId: number;
    startedAt: number;
    tokenHash: string;
    requestTokenHash: string;
    leaseExpiresAt: number;
  },
): Promise<ClaimedJob | null | undefined> {
  const eligible = eligibility(runner, 'postgres', []);
  if (eligible === undefined) return undefined;
  const asking = sql`exists (select 1 from asking)`;
  const pick = eligible.fair
    ? sql`idle as materialized (${lockFirstOf(eligible, 'idle', 'postgres', asking)}),
      fair as materialized (${lockFirstOf(eligible, 'fair', 'postgres', sql`${asking} and not exists (select 1 from idle)`)}),
      pick as materialized (select id, rg from idle union all select id, rg from fair)`
    : sql`pick as materialized (${lockFirstOf(eligible, 'oldest', 'postgres', asking)})`;
  const query = sql<OneStatementRow>`${PREPARED}with recursive ${eligible.groups === null ? sql`` : sql`${eligible.groups},`}
    asking as materialized (
      select id, maximum_timeout from runners
      where id = ${runner.id} ${tokenHash === undefined ? sql`` : sql`and token_hash = ${tokenHash}`}
        and paused = 0 and runner_type = ${runner.runnerType}
        and project_id is not distinct from ${runner.projectId}::bigint
        and group_id is not distinct from ${runner.groupId}::bigint
        and tag_list::jsonb = ${JSON.stringify(runner.tagList)}::jsonb
        and run_untagged = ${runner.runUntagged ? 1 : 0} and access_level = ${runner.accessLevel}
        and description = ${runner.description}
      for share),
    ${pick},
    claimed as (
      update jobs set status = 'running', runner_id = ${changes.runnerId}, started_at = ${changes.startedAt},
        token_hash = ${changes.tokenHash}, request_token_hash = ${changes.requestTokenHash},
        lease_expires_at = ${changes.leaseExpiresAt},
        timeout_seconds = case when asking.maximum_timeout is not null and jobs.timeout_seconds > asking.maximum_timeout
          then asking.maximum_timeout else jobs.timeout_seconds end
      from pick, asking
      where jobs.id = pick.id and pick.rg is null and jobs.status = 'pending'
      returning jobs.*),
    lineage(id, parent_id, depth) as (
      select g.id, g.parent_id, 0 from groups g
      where g.id = (select pr.namespace_id from projects pr join claimed on pr.id = claimed.project_id)
      union all select g.id, g.parent_id, l.depth + 1 from groups g join lineage l on g.id = l.parent_id
      where l.depth < 63)
    select (select count(*) from asking) as runner_ok, pick.id as picked,
      row_to_json(claimed.*) as job, row_to_json(p.*) as pipeline, row_to_json(pr.*) as project,
      row_to_json(u.*) as job_user,
      (select json_agg(row_to_json(g.*) order by l.depth) from lineage l join groups g on g.id = l.id) as lineage,
      exists (select 1 from project_path_history h
        where h.path = pr.path_with_namespace and h.project_id <> pr.id) as path_reused,
      (select max(m.access_level) from members m where m.user_id = claimed.user_id
        and ((m.source_type = 'project' and m.source_id = claimed.project_id)
          or (m.source_type = 'group' and m.source_id in (select id from lineage)))) as access_level,
      (select json_agg(row_to_json(v.*) order by v.id) from ci_variables v
        where v.owner_type = 'instance' or (v.owner_type = 'group' and v.owner_id in (select id from lineage)))
        as inherited_variables,
      (select json_agg(row_to_json(v.*) order by v.id) from project_variables v
        where v.project_id = claimed.project_id) as project_variables
    from (select 1) as one
    left join pick on true
    left join claimed on true
    left join pipelines p on p.id = claimed.pipeline_id
    left join projects pr on pr.id = claimed.project_id
    left join users u on u.id = claimed.user_id`;
  const row = (await query.execute(coordinator.store.db)).rows[0];
  if (row === undefined || Number(row.runnerOk) === 0) return undefined;
  if (row.picked === null) return null;
  if (row.job === null) return undefined;
  return {
    job: toJob<PlannedJob>(row.job),
    pipeline: row.pipeline === null ? undefined : toPipeline(row.pipeline),
    project: row.project === null ? undefined : toProject(row.project),
    user: row.jobUser === null ? null : toUser(row.jobUser),
    lineage: row.lineage ?? [],
    pathReused: row.pathReused,
    accessLevel: row.accessLevel === null ? null : Number(row.accessLevel),
    variables: {
      inherited: (row.inheritedVariables ?? []).map(withVariableFlags),
      own: (row.projectVariables ?? []).map(withVariableFlags),
    },
  };
}

/** What {@link claimInOneStatement} read besides the job, its pipeline and project, for the payload. */
function readWithClaim(claimed: ClaimedJob): Partial<JobRecords> {
  const { user, lineage, pathReused, accessLevel, variables } = claimed;
  return {
    ...(variables === undefined ? {} : { variables }),
    ...(user === undefined ? {} : { user }),
    ...(lineage === undefined ? {} : { lineage }),
    ...(pathReused === undefined ? {} : { pathReused }),
    ...(accessLevel === undefined ? {} : { accessLevel }),
  };
}

/** How often a claim looks for delayed jobs that came due, per coordinator. */
const PROMOTION_INTERVAL_MS = 1000;
/** When each coordinator's claims last looked for due delayed jobs. */
const lastPromotion = new WeakMap<Coordinator, number>();

/**
 * Claims the oldest pending job `runner` may run and answers its payload, or null when there is
 * none. The claim is a compare-and-set from `pending` to `running` inside a transaction (with
 * `FOR UPDATE SKIP LOCKED` on PostgreSQL), so no job is ever handed out twice, even to runners
 * polling different coordinator nodes at the same moment. The job token and on-demand request
 * token are generated here and stored only as hashes; ID tokens are minted after the claim, when
 * the runner and the timeout are fixed. `tokenHash`: the hash of the token the runner asked with,
 * when it was checked earlier (a cached check): the claim then takes a job only while the runner's
 * token is still that one.
 */
export async function claimJob(
  coordinator: Coordinator,
  asking: RunnerRecord,
  options: { tokenHash?: string } = {},
): Promise<JobPayload | null> {
  let runner = asking;
  const refused: number[] = [];
  // Delayed jobs that came due are queued before the claim looks, at most once a second per
  // node (the sweep queues them too): looking on every request was a statement per dispatch.
  const at = coordinator.clock();
  const last = lastPromotion.get(coordinator);
  if (last === undefined || at - last >= PROMOTION_INTERVAL_MS || at < last) {
    lastPromotion.set(coordinator, at);
    await promoteScheduledJobs(coordinator);
  }
  // Bounded: each round either claims, finds nothing, or refuses a job that cannot start now.
  for (let round = 0; round < 50; round++) {
    const jobToken = generateSecret(TOKEN_PREFIXES.job);
    const requestToken = generateSecret(TOKEN_PREFIXES.idTokenRequest);
    const now = coordinator.clock();
    const changes = {
      runnerId: runner.id,
      startedAt: now,
      tokenHash: jobToken.hash,
      requestTokenHash: requestToken.hash,
      leaseExpiresAt: now + coordinator.config.leaseTimeout * 1000,
    };
    // On PostgreSQL the first look is one statement; it answers undefined when this claim needs
    // the general path below (a runner changed since the node read it, a resource group).
    let claimed: ClaimedJob | null | undefined =
      round === 0 && coordinator.store.dialect === 'postgres'
        ? await claimInOneStatement(coordinator, runner, options.tokenHash, changes)
        : undefined;
    if (claimed !== undefined && claimed !== null) {
      const { job, pipeline } = claimed;
      // As below: only the pipeline's first job to start moves it (in its own transaction here;
      // a crash between the two leaves a pending pipeline with a running job, which that job's
      // end or its lease's expiry settles, as advancing reads all the jobs of such a pipeline).
      if (pipeline?.status !== 'running' || pipeline.startedAt === null) {
        await coordinator.store.transaction((tx) => advancePipeline(tx, job.pipelineId, now));
      }
    }
    claimed ??= await coordinator.store.transaction(async (tx): Promise<ClaimedJob | null | undefined> => {
      const repos = repositories(tx);
      // A long poll lasts up to jobRequestWait: a pause, new tags, a new access level or a
      // deletion since it began count from now on.
      const locked = await repos.runners.lock(
        runner.id,
        'claim',
        coordinator.store.dialect,
        options.tokenHash,
      );
      if (!locked || locked.paused) return null;
      runner = locked;
      const found = await lockFirstEligible(tx, locked, coordinator.store.dialect, refused);
      if (found === undefined) return null;
      // resource_group: one running job per group, the next one in the group's process mode.
      if (!(await resourceGroupAllows(tx, found.id, found))) {
        refused.push(found.id);
        return undefined;
      }
      // The claim's compare-and-set answers the job as claimed: no read of it before or after.
      const job = await repos.jobs.claim<PlannedJob>(
        found.id,
        { status: 'running', ...changes, runnerId: runner.id },
        runner.maximumTimeout,
      );
      // Not expected while the row is locked (PostgreSQL) or the write lock held (SQLite): look again.
      if (!job) return undefined;
      // A claim settles no job (only finished jobs do), so the pipeline changes only when this
      // is its first job to start; otherwise reading all its jobs (and, on PostgreSQL, locking
      // its row against every other claim of the pipeline) would be wasted. The pipeline read
      // here is also the one the payload is built from (its ref, sha and variables do not change).
      const pipeline = await repos.pipelines.findById(job.pipelineId);
      if (pipeline?.status !== 'running' || pipeline.startedAt === null) {
        await advancePipeline(tx, job.pipelineId, now);
      }
      return { job, pipeline };
    });
    // Nothing eligible is pending, or the runner was paused or deleted meanwhile.
    if (claimed === null) return null;
    // A job held back by its resource group, or one lost to another claimer: look again.
    if (!claimed) continue;
    coordinator.counters.jobsClaimed += 1;
    try {
      const records = await loadJobRecords(coordinator, claimed.job, claimed.pipeline, claimed.project);
      return await buildJobPayload(
        coordinator,
        { ...records, ...readWithClaim(claimed) },
        runner,
        { jobToken: jobToken.value, requestToken: requestToken.value },
        now,
      );
    } catch (error) {
      if (!(error instanceof JobPreparationError)) throw error;
      refused.push(claimed.job.id);
      await coordinator.repos.jobs.appendTrace(
        claimed.job.id,
        `ERROR: Job failed before it started: ${error.message}\n`,
      );
      await finishJob(coordinator, claimed.job.id, { status: 'failed', failureReason: error.failureReason });
    }
  }
  return null;
}
