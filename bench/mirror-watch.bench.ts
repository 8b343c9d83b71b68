/**
 * Pull mirroring at scale: a real `tessera serve` process watches BENCH_REPOS (default 1,000)
 * mirrored local repositories at the default interval (60 s). Measured over one steady-state minute
 * (after every project's first look): the coordinator's CPU, its own and its `git ls-remote`
 * children's (from /proc). Baseline measured in the same run: 1,000 bare `git ls-remote` calls
 * spawned from this process, 8 at a time as the watcher does. Also: the time from a push to its
 * pipeline's first script line, through the webhook (`POST /projects/:id/mirror/pull`) and
 * through the watcher alone, with a real, already polling `tessera runner` process.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Coordinator, startRunner } from '../test/e2e/runner-harness.js';
import { commitFiles, makeRepository } from '../test/runner/git-repository.js';
import { median } from './measure.js';

const REPOS = Number(process.env.BENCH_REPOS ?? 1000);
const INTERVAL = Number(process.env.BENCH_MIRROR_INTERVAL ?? 60);
const WEBHOOK_SAMPLES = Number(process.env.BENCH_ROUNDS ?? 7);
const WATCHER_SAMPLES = 3;
const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds of `pid` (`self` for this process): its own, and its waited-for children's. */
function cpu(pid: number | 'self'): { own: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
  const at = (field: number) => Number(fields[field - 3]);
  return {
    own: (at(14) + at(15)) / TICKS_PER_SECOND,
    children: (at(16) + at(17)) / TICKS_PER_SECOND,
  };
}

function lsRemote(path: string): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('git', ['ls-remote', '--heads', '--tags', '--', path], (error) =>
      error ? reject(error) : resolve(),
    ),
  );
}

async function inPool<T>(items: readonly T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: size }, worker));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const root = mkdtempSync(join(tmpdir(), 'tessera-bench-mirror-'));
const marks = join(root, 'marks');
process.env.TESSERA_MIRROR_INTERVAL = String(INTERVAL);
const coordinator = new Coordinator(join(root, 'data'));

async function firstLineAfter(mark: string, started: number, timeoutMs: number): Promise<number> {
  while (!existsSync(mark) || !readFileSync(mark, 'utf8').endsWith('\n')) {
    if (Date.now() - started > timeoutMs) throw new Error(`no job ran within ${timeoutMs} ms`);
    await sleep(5);
  }
  return Number(readFileSync(mark, 'utf8').trim()) * 1000 - started;
}

try {
  const template = join(root, 'template');
  makeRepository(template, {
    '.gitlab-ci.yml': `first:\n  script:\n    - echo "$EPOCHREALTIME" > ${marks}-$CI_PROJECT_ID-$CI_COMMIT_SHORT_SHA\n`,
  });
  const repos = Array.from({ length: REPOS }, (_, index) => join(root, 'repos', `r${index}`));
  for (const repo of repos) cpSync(template, repo, { recursive: true });

  await coordinator.start();
  const group = await coordinator.ok<{ id: number }>('POST', '/groups', { name: 'bench', path: 'bench' });
  const projectIds: number[] = [];
  const setupStarted = performance.now();
  await inPool(repos, 4, async (repo) => {
    const project = await coordinator.ok<{ id: number }>('POST', '/projects', {
      name: repo.slice(repo.lastIndexOf('/') + 1),
      namespace_id: group.id,
      repository_url: repo,
      mirror: true,
      mirror_trigger_builds: true,
    });
    projectIds[repos.indexOf(repo)] = project.id;
  });
  console.log(
    `${REPOS} mirrored projects created in ${((performance.now() - setupStarted) / 1000).toFixed(1)} s`,
  );
  // The shell executor: the job writes its mark outside its build directory.
  const runner = startRunner(coordinator, await coordinator.registerRunner(), join(root, 'builds'), 2, [
    '--executor',
    'shell',
  ]);
  // Every project's first look (the baseline) falls within one interval of its creation.
  await sleep((INTERVAL + 5) * 1000);

  const pid = coordinator.child?.process.pid;
  if (pid === undefined) throw new Error('no coordinator process');
  // Watcher-only pushes: committed at the start of the measured minute, seen at the next look.
  const watched = Array.from({ length: WATCHER_SAMPLES }, (_, index) => index);
  const watchedStart = Date.now();
  const watchedMarks = watched.map((index) => {
    const sha = commitFiles(repos[index] as string, { 'w.txt': String(index) }, 'watched');
    return `${marks}-${projectIds[index]}-${sha.slice(0, 8)}`;
  });
  const before = cpu(pid);
  const wallStart = performance.now();
  await sleep(INTERVAL * 1000);
  const after = cpu(pid);
  const minutes = (performance.now() - wallStart) / 60_000;
  const watcherLatencies = await Promise.all(
    watchedMarks.map((mark) => firstLineAfter(mark, watchedStart, (INTERVAL + 30) * 1000)),
  );

  const baselineBefore = cpu('self');
  const baselineStart = performance.now();
  await inPool(repos, 8, lsRemote);
  const baselineWall = performance.now() - baselineStart;
  const baselineAfter = cpu('self');

  // Webhook pushes, one at a time, on projects the watcher is not looking at right now.
  const webhookLatencies: number[] = [];
  for (let round = 0; round <= WEBHOOK_SAMPLES; round += 1) {
    const index = WATCHER_SAMPLES + round;
    const sha = commitFiles(repos[index] as string, { 'h.txt': String(round) }, 'hooked');
    const started = Date.now();
    await coordinator.ok('POST', `/projects/${projectIds[index]}/mirror/pull`);
    const latency = await firstLineAfter(`${marks}-${projectIds[index]}-${sha.slice(0, 8)}`, started, 30_000);
    if (round > 0) webhookLatencies.push(latency); // round 0 warms the runner's caches up
  }
  await runner.stop();

  const coordinatorOwn = (after.own - before.own) / minutes;
  const coordinatorGit = (after.children - before.children) / minutes;
  // The watcher looks at every repository once per interval: the baseline per minute is that many calls.
  const baselineCpu = (baselineAfter.children - baselineBefore.children) * (60 / INTERVAL);
  const perMinute = coordinatorOwn + coordinatorGit;
  console.log(
    `\nWatching ${REPOS} mirrored repositories at a ${INTERVAL} s interval (one steady-state minute)`,
  );
  console.log(`  coordinator CPU per minute            ${perMinute.toFixed(2).padStart(7)} s`);
  console.log(`    of which the Node process           ${coordinatorOwn.toFixed(2).padStart(7)} s`);
  console.log(`    of which its git ls-remote children ${coordinatorGit.toFixed(2).padStart(7)} s`);
  console.log(
    `  baseline: ${Math.round((REPOS * 60) / INTERVAL)} bare git ls-remote per minute ${baselineCpu.toFixed(2).padStart(7)} s CPU (${REPOS} calls took ${(baselineWall / 1000).toFixed(1)} s wall, 8 at a time)`,
  );
  console.log(
    `  ratio coordinator CPU per minute / bare ls-remote CPU: ${(perMinute / baselineCpu).toFixed(2)}`,
  );
  console.log(`  (the minute also held ${WATCHER_SAMPLES} push pipelines and their jobs' API calls)`);
  console.log('\nPush → first script line of its pipeline');
  console.log(
    `  webhook (POST mirror/pull)   median ${median(webhookLatencies).toFixed(0).padStart(6)} ms  (min ${Math.min(...webhookLatencies).toFixed(0)}, max ${Math.max(...webhookLatencies).toFixed(0)}, ${webhookLatencies.length} pushes)`,
  );
  console.log(
    `  watcher alone                median ${median(watcherLatencies).toFixed(0).padStart(6)} ms  (min ${Math.min(...watcherLatencies).toFixed(0)}, max ${Math.max(...watcherLatencies).toFixed(0)}, ${watcherLatencies.length} pushes; expected: up to one interval)`,
  );
} finally {
  await coordinator.stop();
  rmSync(root, { recursive: true, force: true });
}
