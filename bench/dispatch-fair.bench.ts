/**
 * Fair dispatch at scale: `JOBS` queued jobs (`script: true`, one ID token each) across
 * `PROJECTS` projects (60% untagged, 20% `linux`, 20% `gpu`), taken by `RUNNERS` simulated
 * runners speaking the runner protocol over real HTTP (`POST /jobs/request`, then `PUT /jobs/:id`
 * with `state=success`), split over two coordinator processes on one PostgreSQL database; then
 * the same workload on one SQLite node. Runners: plain instance runners, `linux` and `gpu` instance
 * runners that take no untagged jobs, group runners and project runners (whose jobs sit deep in the
 * queue, behind thousands of others).
 *
 * Reported: dispatches/s, claim latency p50/p99 (request sent → job received), database CPU per
 * dispatch (the CPU time of this database's PostgreSQL backends from /proc, as
 * pg_stat_statements is not preloaded on the test server), jobs handed out twice (goal 0), and the
 * longest run of empty polls a runner saw while a job it could take was pending (goal ≤ 2), and
 * where the CPU went: the two nodes' and the simulated runners' CPU per dispatch, the bare loop's
 * own, and how busy the machine was (on a saturated machine the ratio is the ratio of CPU costs).
 * Baseline in the same run: a bare claim loop on the same database (the claim SQL of
 * `claimJob` alone: runner row, eligible job `FOR UPDATE SKIP LOCKED`, the update to `running`,
 * then to `success`; no HTTP, no tokens), with as many concurrent claimers over 20 connections.
 * Goal: dispatches/s at least half the bare loop's.
 *
 * Settings: BENCH_JOBS (5000), BENCH_PROJECTS (50), BENCH_RUNNERS (100), BENCH_DATABASE_URL
 * (postgres://postgres@127.0.0.1:55433/tessera_dispatch_bench), BENCH_SQLITE=0 to skip SQLite.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { startServer } from '../src/cli/serve.js';
import { loadConfig } from '../src/config/load.js';
import { lockFirstEligibleJob } from '../src/coordinator/claim-job.js';
import { openStore, type Store } from '../src/store/open-store.js';
import { repositories } from '../src/store/repositories.js';
import { median } from './measure.js';

const JOBS = Number(process.env.BENCH_JOBS ?? 5000);
const PROJECTS = Number(process.env.BENCH_PROJECTS ?? 50);
const RUNNERS = Number(process.env.BENCH_RUNNERS ?? 100);
const DATABASE =
  process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:55433/tessera_dispatch_bench';
const ADMIN = 'bench-admin-token-0123456789';
const KEK = process.env.BENCH_KEK ?? randomBytes(32).toString('base64');
/** How long a runner's request waits for a job (GitLab's runner: long polls of a few seconds). */
const REQUEST_WAIT = 2;

interface NodeSettings {
  database: string;
  pgSchema?: string;
  dataDir: string;
}

/** One simulated runner: its token and what it may take. */
interface BenchRunner {
  token: string;
  node: number;
  kind: 'instance' | 'instance-linux' | 'instance-gpu' | 'group' | 'project';
  projectId: number | null;
}

// ---- the coordinator process -------------------------------------------------------------------

async function serveNode(settings: NodeSettings): Promise<void> {
  const config = loadConfig(
    {
      host: '127.0.0.1',
      port: 0,
      dataDir: settings.dataDir,
      database: settings.database,
      logLevel: 'warn',
      issuer: 'http://127.0.0.1:0',
      tokenRateLimit: 1_000_000,
      authRateLimit: 1_000_000,
      jobRequestWait: REQUEST_WAIT,
      repositoryAllowLocal: '/',
    },
    {},
  );
  const server = await startServer(config, {
    env: { TESSERA_BOOTSTRAP_ADMIN_TOKEN: ADMIN, TESSERA_KEY_ENCRYPTION_KEY: KEK },
    notice: () => {},
    ...(settings.pgSchema ? { pgSchema: settings.pgSchema } : {}),
  });
  process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
  process.stdin.resume();
  process.stdin.on('end', async () => {
    await server.close();
    process.exit(0);
  });
}

async function startNode(
  settings: NodeSettings,
): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      'serve',
      JSON.stringify(settings),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, BENCH_KEK: KEK } },
  );
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: child.stdout }).once('line', resolve),
  );
  return {
    url: (JSON.parse(line) as { url: string }).url,
    pid: child.pid!,
    stop: async () => {
      child.stdin.end();
      await new Promise((resolve) => child.on('close', resolve));
    },
  };
}

// ---- HTTP --------------------------------------------------------------------------------------

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

function call(
  base: string,
  method: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify(body ?? {}));
    const req = request(
      `${base}${path}`,
      {
        method,
        agent,
        headers: { 'content-type': 'application/json', 'content-length': payload.length, ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function admin(base: string, method: string, path: string, body?: unknown) {
  const answer = await call(base, method, `/api/v4${path}`, body, { 'private-token': ADMIN });
  if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${answer.body}`);
  return JSON.parse(answer.body) as { id: number; token: string };
}

// ---- the workload ------------------------------------------------------------------------------

function jobTags(index: number): string[] {
  const slot = index % 5;
  return slot === 3 ? ['linux'] : slot === 4 ? ['gpu'] : [];
}

function makeRepository(root: string, jobsPerProject: number): string {
  const repo = join(root, 'repo');
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@b.invalid', ...args], { cwd: repo });
  execFileSync('git', ['init', '--quiet', '--initial-branch=main', repo]);
  const jobs = Array.from({ length: jobsPerProject }, (_, index) => {
    const tags = jobTags(index);
    return (
      `job${index}:\n  script: ['true']\n  id_tokens:\n    ID_TOKEN:\n      aud: https://bench.example\n` +
      (tags.length > 0 ? `  tags: [${tags.join(', ')}]\n` : '')
    );
  });
  writeFileSync(join(repo, '.gitlab-ci.yml'), jobs.join(''));
  git('add', '-A');
  git('commit', '--quiet', '-m', 'bench');
  return repo;
}

/** Queues the jobs (one pipeline per project) and registers the runners, spread over `nodes`. */
async function setUp(base: string, root: string, nodes: number) {
  const jobsPerProject = Math.ceil(JOBS / PROJECTS);
  const repo = makeRepository(root, jobsPerProject);
  const group = await admin(base, 'POST', '/groups', { name: 'bench', path: 'bench' });
  const projects: number[] = [];
  for (let index = 0; index < PROJECTS; index += 1) {
    const project = await admin(base, 'POST', '/projects', {
      name: `p${index}`,
      namespace_id: group.id,
      repository_url: repo,
    });
    projects.push(project.id);
    await admin(base, 'POST', `/projects/${project.id}/pipeline?ref=main`);
  }
  const runners: BenchRunner[] = [];
  for (let index = 0; index < RUNNERS; index += 1) {
    const share = index / RUNNERS;
    const node = index % nodes;
    let runner: BenchRunner;
    if (share < 0.45) {
      const { token } = await admin(base, 'POST', '/user/runners', { runner_type: 'instance_type' });
      runner = { token, node, kind: 'instance', projectId: null };
    } else if (share < 0.6) {
      const { token } = await admin(base, 'POST', '/user/runners', {
        runner_type: 'instance_type',
        tag_list: ['linux'],
        run_untagged: false,
      });
      runner = { token, node, kind: 'instance-linux', projectId: null };
    } else if (share < 0.75) {
      const { token } = await admin(base, 'POST', '/user/runners', {
        runner_type: 'instance_type',
        tag_list: ['gpu'],
        run_untagged: false,
      });
      runner = { token, node, kind: 'instance-gpu', projectId: null };
    } else if (share < 0.85) {
      const { token } = await admin(base, 'POST', '/user/runners', {
        runner_type: 'group_type',
        group_id: group.id,
        tag_list: ['linux'],
      });
      runner = { token, node, kind: 'group', projectId: null };
    } else {
      // Project runners on the last projects: their jobs are queued behind all the others.
      const projectId = projects[projects.length - 1 - (index % Math.min(15, projects.length))]!;
      const { token } = await admin(base, 'POST', '/user/runners', {
        runner_type: 'project_type',
        project_id: projectId,
        tag_list: ['linux', 'gpu'],
      });
      runner = { token, node, kind: 'project', projectId };
    }
    runners.push(runner);
  }
  return { runners, total: jobsPerProject * PROJECTS };
}

/** Whether `runner` may take a job with `tags` of `projectId` (every project is in the one group). */
function mayTake(runner: BenchRunner, tags: string[], projectId: number): boolean {
  const tag = tags[0];
  switch (runner.kind) {
    case 'instance':
      return tag === undefined;
    case 'instance-linux':
      return tag === 'linux';
    case 'instance-gpu':
      return tag === 'gpu';
    case 'group':
      return tag === undefined || tag === 'linux';
    case 'project':
      return projectId === runner.projectId;
  }
}

interface Dispatch {
  jobId: number;
  projectId: number;
  tags: string[];
  runner: number;
  requestedAt: number;
  receivedAt: number;
}

/** Runs every runner until every job is handed out; answers what each saw. */
async function runRunners(urls: string[], runners: BenchRunner[], total: number) {
  const dispatches: Dispatch[] = [];
  const emptyPolls: Array<{ runner: number; at: number }> = [];
  let done = false;
  const started = performance.now();
  let finished = started;
  await Promise.all(
    runners.map(async (runner, index) => {
      const base = urls[runner.node]!;
      while (!done) {
        const requestedAt = performance.now();
        const answer = await call(base, 'POST', '/api/v4/jobs/request', { token: runner.token, info: {} });
        const receivedAt = performance.now();
        if (answer.status === 204) {
          emptyPolls.push({ runner: index, at: receivedAt });
          continue;
        }
        if (answer.status !== 201) throw new Error(`jobs/request: ${answer.status} ${answer.body}`);
        const job = JSON.parse(answer.body) as {
          id: number;
          token: string;
          job_info: { name: string; project_id: number };
          variables: Array<{ key: string; value: string }>;
        };
        if (!job.variables.some((variable) => variable.key === 'ID_TOKEN')) throw new Error('no ID token');
        const jobIndex = Number(job.job_info.name.slice(3));
        dispatches.push({
          jobId: job.id,
          projectId: job.job_info.project_id,
          tags: jobTags(jobIndex),
          runner: index,
          requestedAt,
          receivedAt,
        });
        if (dispatches.length >= total) {
          done = true;
          finished = receivedAt;
        }
        const update = await call(base, 'PUT', `/api/v4/jobs/${job.id}`, {
          token: job.token,
          state: 'success',
          exit_code: 0,
        });
        if (update.status !== 200) throw new Error(`PUT jobs: ${update.status} ${update.body}`);
      }
    }),
  );
  const seconds = (finished - started) / 1000;
  // A poll that came back empty while a job its runner could take was still waiting (it was
  // requested by someone only after that answer) is a starved poll; count the longest run.
  let longestStarvedRun = 0;
  const takenAfter = dispatches.map((dispatch) => dispatch);
  for (let index = 0; index < runners.length; index += 1) {
    const runner = runners[index]!;
    const polls = emptyPolls.filter((poll) => poll.runner === index).sort((a, b) => a.at - b.at);
    const ownTakes = dispatches.filter((dispatch) => dispatch.runner === index).map((d) => d.receivedAt);
    let run = 0;
    for (const poll of polls) {
      const starved = takenAfter.some(
        (dispatch) => dispatch.requestedAt > poll.at && mayTake(runner, dispatch.tags, dispatch.projectId),
      );
      // A take between two empty polls ends the run.
      const last = polls[polls.indexOf(poll) - 1];
      if (last && ownTakes.some((at) => at > last.at && at < poll.at)) run = 0;
      run = starved ? run + 1 : 0;
      longestStarvedRun = Math.max(longestStarvedRun, run);
    }
  }
  const latencies = dispatches.map((dispatch) => dispatch.receivedAt - dispatch.requestedAt);
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    rate: dispatches.length / seconds,
    seconds,
    p50: median(latencies),
    p99: sorted[Math.floor(sorted.length * 0.99)] ?? 0,
    duplicates: dispatches.length - new Set(dispatches.map((dispatch) => dispatch.jobId)).size,
    dispatched: dispatches.length,
    longestStarvedRun,
    idleRunners: runners.filter((_, index) => !dispatches.some((dispatch) => dispatch.runner === index))
      .length,
  };
}

/** The bare claim loop: the claim SQL alone, `claimers` at once, until nothing is pending. */
async function bareClaimLoop(store: Store, claimers: number) {
  const runners = await repositories(store.db).runners.list();
  let claimed = 0;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: claimers }, async (_, index) => {
      const runner = runners[index % runners.length]!;
      for (;;) {
        const at = performance.now();
        const id = await store.transaction(async (tx) => {
          const locked = await repositories(tx).runners.lock(runner.id, 'claim', store.dialect);
          if (!locked) return undefined;
          const jobId = await lockFirstEligibleJob(tx, locked, store.dialect);
          if (jobId === undefined) return undefined;
          await repositories(tx).jobs.transition(jobId, ['pending'], {
            status: 'running',
            runnerId: runner.id,
          });
          return jobId;
        });
        if (id === undefined) return;
        latencies.push(performance.now() - at);
        claimed += 1;
        await repositories(store.db).jobs.transition(id, ['running'], { status: 'success' });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { rate: claimed / seconds, claimed, p50: median(latencies) };
}

async function resetJobs(store: Store): Promise<void> {
  await sql`update jobs set status = 'pending', runner_id = null, started_at = null, finished_at = null,
    token_hash = null, request_token_hash = null, lease_expires_at = null`.execute(store.db);
}

// ---- database CPU ------------------------------------------------------------------------------

/** CPU seconds (user + system, all threads) used so far by process `pid`, from /proc. */
function processCpu(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = 100; // USER_HZ
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}

/** The machine's CPU seconds so far, busy and all (from /proc/stat, every core). */
function machineCpu(): { busy: number; all: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const all = fields.reduce((sum, value) => sum + value, 0) / 100;
  const idle = ((fields[3] ?? 0) + (fields[4] ?? 0)) / 100;
  return { busy: all - idle, all };
}

/** CPU seconds used so far by this database's backends (from /proc; the server is local). */
async function databaseCpu(store: Store, database: string, seen: Map<number, number>): Promise<number> {
  const { rows } = await sql<{
    pid: number;
  }>`select pid from pg_stat_activity where datname = ${database}`.execute(store.db);
  for (const { pid } of rows) {
    try {
      seen.set(pid, processCpu(pid));
    } catch {
      // the backend ended (or the server is not local): keep its last reading
    }
  }
  let total = 0;
  for (const value of seen.values()) total += value;
  return total;
}

// ---- main --------------------------------------------------------------------------------------

function line(label: string, value: string) {
  console.log(`  ${label.padEnd(46)} ${value}`);
}

async function benchPostgres(root: string) {
  const schema = `bench_${Date.now()}`;
  const databaseName = new URL(DATABASE).pathname.slice(1);
  try {
    execFileSync(
      'createdb',
      ['-h', new URL(DATABASE).hostname, '-p', new URL(DATABASE).port, '-U', 'postgres', databaseName],
      {
        stdio: 'ignore',
      },
    );
  } catch {
    // it exists
  }
  const first = await startNode({ database: DATABASE, pgSchema: schema, dataDir: join(root, 'a') });
  const second = await startNode({ database: DATABASE, pgSchema: schema, dataDir: join(root, 'b') });
  const store = await openStore({
    database: DATABASE,
    dataDir: join(root, 'bare'),
    pgSchema: schema,
    poolSize: 20,
  });
  try {
    const { runners, total } = await setUp(first.url, root, 2);
    const cpu = new Map<number, number>();
    // The bare loop first, then the same jobs again through HTTP.
    let before = await databaseCpu(store, databaseName, cpu);
    const bareClientBefore = process.cpuUsage();
    const bare = await bareClaimLoop(store, RUNNERS);
    const bareClient = process.cpuUsage(bareClientBefore);
    const bareCpu = (await databaseCpu(store, databaseName, cpu)) - before;
    await resetJobs(store);
    before = await databaseCpu(store, databaseName, cpu);
    const nodesBefore = processCpu(first.pid) + processCpu(second.pid);
    const clientsBefore = process.cpuUsage();
    const machineBefore = machineCpu();
    const sampler = setInterval(() => void databaseCpu(store, databaseName, cpu), 200);
    const http = await runRunners([first.url, second.url], runners, total);
    clearInterval(sampler);
    const httpCpu = (await databaseCpu(store, databaseName, cpu)) - before;
    const nodesCpu = processCpu(first.pid) + processCpu(second.pid) - nodesBefore;
    const clients = process.cpuUsage(clientsBefore);
    const machineAfter = machineCpu();
    const perDispatch = (seconds: number) => `${((seconds / total) * 1000).toFixed(2)} ms`;
    const perBareClaim = (seconds: number) => `${((seconds / bare.claimed) * 1000).toFixed(2)} ms`;
    const left = await sql<{
      n: number;
    }>`select count(*)::int as n from jobs where status <> 'success'`.execute(store.db);
    console.log(
      `\nFair dispatch, PostgreSQL, two nodes: ${total} jobs, ${PROJECTS} projects, ${RUNNERS} runners`,
    );
    line('dispatches/s (HTTP, request + PUT success)', http.rate.toFixed(0));
    line('bare claim loop claims/s', bare.rate.toFixed(0));
    line(
      'ratio HTTP / bare (goal ≥ 0.5)',
      `${(http.rate / bare.rate).toFixed(2)} ${http.rate / bare.rate >= 0.5 ? 'met' : 'NOT met'}`,
    );
    line('claim latency p50 / p99', `${http.p50.toFixed(1)} ms / ${http.p99.toFixed(1)} ms`);
    line('bare claim transaction p50', `${bare.p50.toFixed(1)} ms`);
    line('database CPU per dispatch (HTTP / bare)', `${perDispatch(httpCpu)} / ${perBareClaim(bareCpu)}`);
    const bareOwn = (bareClient.user + bareClient.system) / 1e6;
    const clientsCpu = (clients.user + clients.system) / 1e6;
    line("the two nodes' CPU per dispatch", perDispatch(nodesCpu));
    line("the simulated runners' CPU per dispatch", perDispatch(clientsCpu));
    line("the bare loop's own CPU per claim", perBareClaim(bareOwn));
    line(
      'CPU per dispatch, every process (HTTP / bare)',
      `${perDispatch(httpCpu + nodesCpu + clientsCpu)} / ${perBareClaim(bareCpu + bareOwn)}`,
    );
    line(
      'machine busy during the HTTP run',
      `${(((machineAfter.busy - machineBefore.busy) / (machineAfter.all - machineBefore.all)) * 100).toFixed(0)} %`,
    );
    line('jobs handed out twice (goal 0)', String(http.duplicates));
    line('jobs not finished', String(left.rows[0]?.n));
    line('longest run of starved polls (goal ≤ 2)', String(http.longestStarvedRun));
    line('runners that got no job', String(http.idleRunners));
  } finally {
    await sql.raw(`drop schema ${schema} cascade`).execute(store.db);
    await store.close();
    await first.stop();
    await second.stop();
  }
}

async function benchSqlite(root: string) {
  const dataDir = join(root, 'sqlite');
  const node = await startNode({ database: '', dataDir });
  const { runners, total } = await setUp(node.url, join(root, 'sqlite-repo'), 1);
  const http = await runRunners([node.url], runners, total);
  await node.stop();
  const store = await openStore({ database: '', dataDir });
  try {
    await resetJobs(store);
    const bare = await bareClaimLoop(store, RUNNERS);
    console.log(`\nFair dispatch, SQLite, one node: ${total} jobs, ${PROJECTS} projects, ${RUNNERS} runners`);
    line('dispatches/s (HTTP, request + PUT success)', http.rate.toFixed(0));
    line('bare claim loop claims/s', bare.rate.toFixed(0));
    line('ratio HTTP / bare', (http.rate / bare.rate).toFixed(2));
    line('claim latency p50 / p99', `${http.p50.toFixed(1)} ms / ${http.p99.toFixed(1)} ms`);
    line('jobs handed out twice (goal 0)', String(http.duplicates));
    line('longest run of starved polls (goal ≤ 2)', String(http.longestStarvedRun));
    line('runners that got no job', String(http.idleRunners));
  } finally {
    await store.close();
  }
}

if (process.argv[2] === 'serve') {
  await serveNode(JSON.parse(process.argv[3]!) as NodeSettings);
} else {
  const root = mkdtempSync(join(tmpdir(), 'tessera-bench-dispatch-fair-'));
  try {
    if (process.env.BENCH_POSTGRES !== '0') await benchPostgres(root);
    if (process.env.BENCH_SQLITE !== '0') await benchSqlite(root);
  } finally {
    agent.destroy();
    rmSync(root, { recursive: true, force: true });
  }
}
