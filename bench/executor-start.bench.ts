/**
 * Benchmark: what an executor adds to the start of a job, measured as one job step that runs
 * `true` (the executor's session opened, the step run to its end through `runProcess`, the session
 * closed) against the bare command in the same run:
 *
 * - `sandbox` (bubblewrap) against a bare `bash -c true` (goal: under 3×);
 * - `docker` with podman against a bare `podman run --rm IMAGE true` (goal: at most 1.3×), with the
 *   busybox test image (built from Debian's busybox-static, no registry) and `if-not-present`.
 *
 * Each round runs every contender once, in alternating order; the report gives the median
 * milliseconds of each and the median of the per-round ratios. A contender whose tool is missing
 * is left out with the reason.
 *
 * Run alone: `node --import tsx bench/executor-start.bench.ts`.
 */
import { chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { chooseExecutor } from '../src/runner/executors/create-executor.js';
import type { JobExecutor, JobWorkspace } from '../src/runner/executors/executor.js';
import { findBubblewrap } from '../src/runner/executors/sandbox-executor.js';
import type { JobPayload } from '../src/runner/job-payload.js';
import { type RunProcessOptions, runProcess } from '../src/runner/run-process.js';
import { writeScriptFile } from '../src/runner/script-file.js';
import { ensureBusyboxImage } from '../test/runner/executors/busybox-image.js';
import { median } from './measure.js';

const ROUNDS = Number(process.env.TESSERA_BENCH_ROUNDS ?? 15);

interface Contender {
  readonly name: string;
  readonly run: () => Promise<void>;
}

const root = mkdtempSync(join(tmpdir(), 'tessera-bench-executor-'));

function workspace(image?: string): JobWorkspace {
  const buildsDir = join(root, 'builds');
  const jobRoot = join(buildsDir, '1');
  const projectDir = join(jobRoot, 'app');
  const jobTempDir = `${jobRoot}.tmp`;
  mkdirSync(projectDir, { recursive: true });
  mkdirSync(jobTempDir, { recursive: true });
  const job: JobPayload = {
    id: 1,
    token: 'bench-job-token',
    variables: [{ key: 'CI_PROJECT_PATH', value: 'bench/app' }],
    steps: [],
    git_info: { repo_url: root, sha: '0'.repeat(40) },
    job_info: { name: 'bench', project_name: 'app' },
    ...(image ? { image: { name: image } } : {}),
  };
  return { job, buildsDir, jobRoot, jobTempDir, projectDir, toolDirs: [] };
}

async function runToEnd(options: Omit<RunProcessOptions, 'onOutput' | 'timeoutMs'>): Promise<void> {
  const result = await runProcess({ ...options, onOutput: () => undefined, timeoutMs: 60_000 });
  if (result.exitCode !== 0) throw new Error(`${options.command} ended with ${result.exitCode}`);
}

/** One job step of `true` through `executor`: open, run, close. */
function throughExecutor(
  name: string,
  executor: JobExecutor,
  space: JobWorkspace,
  script: string,
): Contender {
  return {
    name,
    run: async () => {
      const session = await executor.open(space);
      try {
        await runToEnd(session.step(script, { CI_SERVER: 'yes' }));
      } finally {
        await session.close();
      }
    },
  };
}

async function measure(contenders: readonly Contender[]): Promise<Record<string, number[]>> {
  for (const contender of contenders) await contender.run();
  const samples: Record<string, number[]> = Object.fromEntries(contenders.map((c) => [c.name, []]));
  for (let index = 0; index < ROUNDS; index += 1) {
    const order = index % 2 === 0 ? contenders : [...contenders].reverse();
    for (const contender of order) {
      const started = performance.now();
      await contender.run();
      samples[contender.name]?.push(performance.now() - started);
    }
  }
  return samples;
}

function report(
  title: string,
  samples: Record<string, number[]>,
  subject: string,
  bare: string,
  goal: number,
) {
  const mine = samples[subject] ?? [];
  const theirs = samples[bare] ?? [];
  const ratio = median(mine.map((value, index) => value / (theirs[index] ?? Number.NaN)));
  console.log(`\n${title} (median ms over ${mine.length} rounds)`);
  console.log(`  ${bare.padEnd(40)} ${median(theirs).toFixed(1).padStart(8)}`);
  console.log(`  ${subject.padEnd(40)} ${median(mine).toFixed(1).padStart(8)}`);
  console.log(
    `  ratio ${subject} / ${bare}: ${ratio.toFixed(2)}× (goal ${goal < 2 ? 'at most' : 'under'} ${goal}×: ${
      ratio <= goal ? 'met' : 'NOT met'
    })`,
  );
}

async function main(): Promise<void> {
  const space = workspace();
  const script = await writeScriptFile(join(space.jobTempDir, 'script.sh'), ['true']);
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

  const user = process.getuid?.() === 0 ? { name: 'nobody', uid: 65534, gid: 65534 } : undefined;
  const bwrap = findBubblewrap(user);
  if ('reason' in bwrap) console.log(`\nsandbox: skipped (${bwrap.reason})`);
  else {
    const sandbox = chooseExecutor({ name: 'sandbox' }).executor;
    // What the runner does before a job user's first step: the job's files become the job user's.
    if (sandbox.jobUser) {
      for (const path of [space.jobRoot, space.projectDir, space.jobTempDir, script]) {
        chownSync(path, sandbox.jobUser.uid, sandbox.jobUser.gid);
      }
    }
    const samples = await measure([
      {
        name: 'bash -c true',
        run: () => runToEnd({ command: 'bash', args: ['-c', 'true'], env, cwd: root }),
      },
      throughExecutor('sandbox executor step', sandbox, space, script),
    ]);
    report('Job start: sandbox executor', samples, 'sandbox executor step', 'bash -c true', 3);
  }

  const built = ensureBusyboxImage();
  if ('reason' in built) console.log(`\ndocker: skipped (${built.reason})`);
  else {
    const docker = chooseExecutor({
      name: 'docker',
      dockerCli: 'podman',
      dockerPullPolicy: 'if-not-present',
    }).executor;
    const imageSpace = workspace(built.image);
    // The bare run needs the same limits as the executor's on machines whose hard limits are below podman's defaults.
    const probe = await docker.open(imageSpace);
    const step = probe.step(script, {});
    await probe.close();
    const limits = step.args.flatMap((arg, index, all) =>
      all[index - 1] === '--ulimit' ? ['--ulimit', arg] : [],
    );
    const samples = await measure([
      {
        name: 'podman run --rm IMAGE true',
        run: () =>
          runToEnd({
            command: 'podman',
            args: ['run', '--rm', ...limits, built.image, 'true'],
            env: step.env,
            cwd: root,
          }),
      },
      throughExecutor('docker executor step (podman)', docker, imageSpace, script),
    ]);
    report(
      'Job start: docker executor',
      samples,
      'docker executor step (podman)',
      'podman run --rm IMAGE true',
      1.3,
    );
  }
}

try {
  await main();
} finally {
  rmSync(root, { recursive: true, force: true });
}
