/**
 * Benchmark: the coordinator's server start (`buildServer` + `ready()`) with the request validators
 * generated at build time (`dist/validators/validators.cjs`, generated here into a temporary file
 * by the same code) against compiling them, each in a fresh process (compiling is start-up work: a
 * warm process would hide it), interleaved rounds with alternating order, medians and the median of
 * the per-round ratios. Two settings:
 *
 * - `tessera serve`: every validator compiled at start, so the start is the whole difference;
 * - `tessera run` (`compileSchemasOnFirstUse`): validators compiled on a route's first call, so the
 *   first runner requests (ask for a job, update it, append to its trace, mint an ID token) are
 *   timed with the start.
 *
 * Run alone: `node --import tsx bench/server-start.bench.ts`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { median } from './measure.js';

const ROUNDS = 7;

/** What a child measured, in milliseconds. */
interface Timing {
  wall: number;
  cpu: number;
}

/** A child: builds one server, times it, prints the timing as one JSON line. */
async function child(setting: 'serve' | 'run', validatorsFile: string | undefined): Promise<void> {
  const { loadConfig } = await import('../src/config/load.js');
  const { buildServer } = await import('../src/server/build-server.js');
  const { loadPrecompiledValidators } = await import('../src/server/load-precompiled-validators.js');
  const { openStore } = await import('../src/store/open-store.js');
  const { memoryKeyring } = await import('../test/keys/fixtures/memory-keyring.js');
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-bench-server-start-'));
  const store = await openStore({ database: '', dataDir });
  const { keyring } = await memoryKeyring({ algs: [] });
  const config = loadConfig({ dataDir, logLevel: 'silent' }, {});
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const precompiledValidators = validatorsFile ? loadPrecompiledValidators(validatorsFile) : undefined;
  if (validatorsFile && !precompiledValidators) throw new TypeError(`${validatorsFile} did not load`);
  const { app } = buildServer(config, {
    store,
    keyring,
    ...(setting === 'run' ? { compileSchemasOnFirstUse: true } : {}),
    ...(precompiledValidators ? { precompiledValidators } : {}),
  });
  await app.ready();
  if (setting === 'run') {
    // What an embedded runner's first requests validate; the tokens are refused after validation.
    await app.inject({ method: 'POST', url: '/api/v4/jobs/request', payload: { token: 'tsrt-x' } });
    await app.inject({ method: 'PUT', url: '/api/v4/jobs/1', payload: { token: 'x', state: 'running' } });
    await app.inject({
      method: 'PATCH',
      url: '/api/v4/jobs/1/trace',
      payload: 'log',
      headers: { 'content-type': 'text/plain', 'job-token': 'x', 'content-range': '0-2' },
    });
    await app.inject({ method: 'GET', url: '/api/v4/job/id_token?audience=a' });
  }
  const cpu = process.cpuUsage(cpuBefore);
  const timing: Timing = { wall: performance.now() - started, cpu: (cpu.user + cpu.system) / 1000 };
  process.stdout.write(`${JSON.stringify(timing)}\n`);
  await app.close();
  await store.close();
  await rm(dataDir, { recursive: true, force: true });
}

function measure(setting: 'serve' | 'run', validatorsFile: string | undefined): Timing {
  const args = ['--import', 'tsx', fileURLToPath(import.meta.url), 'child', setting];
  const output = execFileSync(process.execPath, validatorsFile ? [...args, validatorsFile] : args, {
    encoding: 'utf8',
  });
  return JSON.parse(output.trim().split('\n').at(-1) ?? '') as Timing;
}

if (process.argv[2] === 'child') {
  await child(process.argv[3] === 'run' ? 'run' : 'serve', process.argv[4]);
} else {
  const { generatePrecompiledValidators } = await import('../src/server/generate-precompiled-validators.js');
  const work = await mkdtemp(join(tmpdir(), 'tessera-bench-server-start-'));
  try {
    const validatorsFile = join(work, 'validators.cjs');
    await writeFile(validatorsFile, await generatePrecompiledValidators());
    const settings = [
      { name: 'tessera serve', title: 'buildServer + ready()', setting: 'serve' },
      { name: 'tessera run', title: 'buildServer + ready() + 4 first runner requests', setting: 'run' },
    ] as const;
    const samples = new Map<string, Timing[]>();
    const contenders = settings.flatMap(({ name, setting }) => [
      { key: `${name} precompiled`, run: () => measure(setting, validatorsFile) },
      { key: `${name} compiled`, run: () => measure(setting, undefined) },
    ]);
    // Warm-up: tsx's transform cache and the disk cache.
    for (const contender of contenders) contender.run();
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const contender of round % 2 === 0 ? contenders : [...contenders].reverse()) {
        samples.set(contender.key, [...(samples.get(contender.key) ?? []), contender.run()]);
      }
    }
    const ms = (value: number) => `${value.toFixed(1)} ms`.padStart(9);
    console.log(`\nServer start, fresh process each, median over ${ROUNDS} interleaved rounds (wall, CPU)`);
    for (const { name, title } of settings) {
      const mine = samples.get(`${name} precompiled`) ?? [];
      const theirs = samples.get(`${name} compiled`) ?? [];
      console.log(`  ${name}: ${title}`);
      for (const [label, values] of [
        ['precompiled validators', mine],
        ['compiled at run time', theirs],
      ] as const) {
        const wall = median(values.map((timing) => timing.wall));
        const cpu = median(values.map((timing) => timing.cpu));
        console.log(`    ${label.padEnd(24)} ${ms(wall)} ${ms(cpu)} CPU`);
      }
      for (const kind of ['wall', 'cpu'] as const) {
        const ratios = mine.map((timing, index) => timing[kind] / (theirs[index]?.[kind] ?? Number.NaN));
        const saved = theirs.map((timing, index) => timing[kind] - (mine[index]?.[kind] ?? Number.NaN));
        console.log(
          `    ratio precompiled / compiled (${kind}): ${median(ratios).toFixed(2)} (rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}), saved ${median(saved).toFixed(1)} ms`,
        );
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
