/**
 * Dispatch latency: from `POST /projects/:id/pipeline` to the first line of the job's script
 * running, with a real `tessera serve` process and a real, already polling `tessera runner`
 * process (so it covers config read from git, pipeline planning, the long-poll wake-up, the
 * claim, token minting, the checkout from the runner's cache and the bash start). The first
 * command records bash's `$EPOCHREALTIME`. Goal: median under 150 ms.
 * Baseline measured in the same run: a bare `bash -c true` spawn from Node.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Coordinator, startRunner } from '../test/e2e/runner-harness.js';
import { makeRepository } from '../test/runner/git-repository.js';
import { median } from './measure.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const root = mkdtempSync(join(tmpdir(), 'tessera-bench-dispatch-'));
const coordinator = new Coordinator(join(root, 'data'));
const mark = join(root, 'first-line');

function bashSpawnMs(): number {
  const started = performance.now();
  spawnSync('bash', ['-c', 'true']);
  return performance.now() - started;
}

try {
  await coordinator.start();
  const repo = join(root, 'repo');
  makeRepository(repo, { '.gitlab-ci.yml': `first:\n  script:\n    - echo "$EPOCHREALTIME" > ${mark}\n` });
  const projectId = await coordinator.createProject('bench', repo);
  const runner = startRunner(coordinator, await coordinator.registerRunner(), join(root, 'builds'), 1);
  const latencies: number[] = [];
  const creations: number[] = [];
  const baseline: number[] = [];
  for (let round = 0; round <= ROUNDS; round += 1) {
    rmSync(mark, { force: true });
    const started = Date.now(); // wall clock, comparable with bash's $EPOCHREALTIME
    const pipeline = await coordinator.createPipeline(projectId);
    const createdAt = Date.now();
    while (!existsSync(mark) || !readFileSync(mark, 'utf8').endsWith('\n')) {
      if (Date.now() - started > 30_000) throw new Error(`no job ran within 30 s: ${runner.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const firstLineAt = Number(readFileSync(mark, 'utf8').trim()) * 1000;
    await coordinator.waitForPipeline(projectId, pipeline.id);
    // Round 0 warms up: the runner's repository cache and the coordinator's git cache are cold.
    if (round > 0) {
      latencies.push(firstLineAt - started);
      creations.push(createdAt - started);
    }
    baseline.push(bashSpawnMs());
  }
  for (let index = 0; index < 20; index += 1) baseline.push(bashSpawnMs());
  await runner.stop();
  const dispatch = median(latencies);
  const spawn = median(baseline);
  const creation = median(creations);
  console.log(`\nDispatch latency, pipeline creation → first script line (median of ${latencies.length})`);
  console.log(
    `  tessera dispatch                    ${dispatch.toFixed(1).padStart(8)} ms  (min ${Math.min(...latencies).toFixed(1)}, max ${Math.max(...latencies).toFixed(1)})`,
  );
  console.log(
    `    of which POST /pipeline answering    ${creation.toFixed(1).padStart(8)} ms  (config read from git, planning)`,
  );
  console.log(
    `    of which claim, checkout, bash start ${(dispatch - creation).toFixed(1).padStart(7)} ms  (median difference)`,
  );
  console.log(`  baseline: bare bash -c true spawn   ${spawn.toFixed(1).padStart(8)} ms`);
  console.log(`  ratio dispatch / bash spawn: ${(dispatch / spawn).toFixed(1)}`);
  console.log(`  goal median < 150 ms: ${dispatch < 150 ? 'met' : 'NOT met'}`);
} finally {
  await coordinator.stop();
  rmSync(root, { recursive: true, force: true });
}
