/**
 * Wall time of a 20-job pipeline of `true` jobs (one stage), from `POST /projects/:id/pipeline`
 * to the pipeline's `success`, with a real `tessera serve` process and a real `tessera runner`
 * process at `--concurrency 4`. Baseline measured in the same run: 20 bare `bash -c true` spawns
 * from Node, one after the other (the least any runner must do for 20 jobs).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Coordinator, startRunner } from '../test/e2e/runner-harness.js';
import { makeRepository } from '../test/runner/git-repository.js';
import { median } from './measure.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const JOBS = 20;
const CONCURRENCY = 4;
const root = mkdtempSync(join(tmpdir(), 'tessera-bench-wall-'));
const coordinator = new Coordinator(join(root, 'data'));

function twentySpawnsMs(): number {
  const started = performance.now();
  for (let index = 0; index < JOBS; index += 1) spawnSync('bash', ['-c', 'true']);
  return performance.now() - started;
}

try {
  await coordinator.start();
  const repo = join(root, 'repo');
  const jobs = Array.from({ length: JOBS }, (_, index) => `job-${index}:\n  script: ["true"]\n`).join('');
  makeRepository(repo, { '.gitlab-ci.yml': jobs });
  const projectId = await coordinator.createProject('bench', repo);
  const runner = startRunner(
    coordinator,
    await coordinator.registerRunner(),
    join(root, 'builds'),
    CONCURRENCY,
  );
  const walls: number[] = [];
  const baseline: number[] = [];
  for (let round = 0; round <= ROUNDS; round += 1) {
    const started = performance.now();
    const pipeline = await coordinator.createPipeline(projectId);
    const done = await coordinator.waitForPipeline(
      projectId,
      pipeline.id,
      ['success', 'failed', 'canceled'],
      120_000,
    );
    const wall = performance.now() - started;
    if (done.status !== 'success') throw new Error(`pipeline ended ${done.status}`);
    if (round > 0) walls.push(wall); // round 0 warms the caches up
    baseline.push(twentySpawnsMs());
  }
  await runner.stop();
  const wall = median(walls);
  const spawns = median(baseline);
  console.log(
    `\nWall time of a ${JOBS}-job pipeline of \`true\` jobs, runner --concurrency ${CONCURRENCY} (median of ${walls.length})`,
  );
  console.log(
    `  tessera pipeline                     ${wall.toFixed(0).padStart(8)} ms  (${(wall / JOBS).toFixed(1)} ms per job)`,
  );
  console.log(`  baseline: ${JOBS} bare bash -c true spawns  ${spawns.toFixed(0).padStart(8)} ms`);
  console.log(`  ratio pipeline / baseline: ${(wall / spawns).toFixed(1)}`);
} finally {
  await coordinator.stop();
  rmSync(root, { recursive: true, force: true });
}
