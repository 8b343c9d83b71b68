/**
 * Benchmark harness shared by `bench/*.bench.ts`. Contenders run in many short interleaved rounds
 * (order alternating each round), after a discarded warm-up, so load from other processes hits
 * them alike. It reports the median ops/s of each contender and, for ratios, the median of the
 * per-round ratios: each round pairs the contenders a few hundred milliseconds apart, which cancels
 * most of the noise of a shared machine.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * One contender: a name and one operation (sync or async), run one after the other; or a name and
 * `measure`, which keeps several operations in flight itself for about `durationMs` and answers
 * its own ops/s (concurrent clients, which must not wait for each other between operations).
 */
export type Contender =
  | { name: string; run: () => unknown }
  | { name: string; measure: (durationMs: number) => Promise<number> };

/** Ops/s of each contender in each round. */
export type Samples = Record<string, number[]>;

async function round(contender: Contender, durationMs: number): Promise<number> {
  if ('measure' in contender) return contender.measure(durationMs);
  let operations = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < durationMs) {
    // Batches of 8 keep the clock reads out of the measurement.
    for (let index = 0; index < 8; index += 1) {
      const result = contender.run();
      if (result instanceof Promise) await result;
    }
    operations += 8;
    elapsed = performance.now() - started;
  }
  return (operations / elapsed) * 1000;
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Runs every contender for `rounds` interleaved rounds of `durationMs` each. */
export async function compare(
  contenders: readonly Contender[],
  options: { rounds?: number; durationMs?: number } = {},
): Promise<Samples> {
  const rounds = options.rounds ?? 11;
  const durationMs = options.durationMs ?? 100;
  for (const contender of contenders) await round(contender, durationMs);
  const samples: Samples = Object.fromEntries(contenders.map((contender) => [contender.name, []]));
  for (let index = 0; index < rounds; index += 1) {
    const order = index % 2 === 0 ? contenders : [...contenders].reverse();
    for (const contender of order) samples[contender.name]?.push(await round(contender, durationMs));
  }
  return samples;
}

/** Per-round ops/s of each contender, measured in wall time and in this process's CPU time. */
export interface InterleavedSamples {
  wall: Samples;
  cpu: Samples;
}

/**
 * Like {@link compare}, for operations of microseconds: within each round the contenders take
 * turns every `chunk` operations (the order rotating from turn to turn) until each has run
 * `chunksPerRound` chunks, and each one's time is the sum of its own chunks. A burst of load from
 * other processes, which would fall on one contender's round in {@link compare}, spreads over all
 * of them, so the per-round ratios stay close to each other. Each operation is awaited.
 * CPU time is this process's (all its threads: work a contender hands to libuv's pool counts).
 */
export async function compareInterleaved(
  contenders: ReadonlyArray<{ name: string; run: () => unknown }>,
  options: { rounds?: number; chunk?: number; chunksPerRound?: number } = {},
): Promise<InterleavedSamples> {
  const rounds = options.rounds ?? 31;
  const chunk = options.chunk ?? 50;
  const chunksPerRound = options.chunksPerRound ?? 8;
  const runChunk = async (contender: { run: () => unknown }) => {
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    for (let index = 0; index < chunk; index += 1) {
      const result = contender.run();
      if (result instanceof Promise) await result;
    }
    const wall = performance.now() - started;
    const used = process.cpuUsage(cpuBefore);
    return { wall, cpu: (used.user + used.system) / 1000 };
  };
  // Warm-up (JIT, caches), not counted.
  for (const contender of contenders) for (let index = 0; index < 4; index += 1) await runChunk(contender);
  const wall: Samples = Object.fromEntries(contenders.map((contender) => [contender.name, []]));
  const cpu: Samples = Object.fromEntries(contenders.map((contender) => [contender.name, []]));
  for (let round = 0; round < rounds; round += 1) {
    const totals = contenders.map(() => ({ wall: 0, cpu: 0 }));
    for (let turn = 0; turn < chunksPerRound; turn += 1) {
      for (let step = 0; step < contenders.length; step += 1) {
        const at = (turn + round + step) % contenders.length;
        const contender = contenders[at];
        const total = totals[at];
        if (!contender || !total) continue;
        const spent = await runChunk(contender);
        total.wall += spent.wall;
        total.cpu += spent.cpu;
      }
    }
    const operations = chunk * chunksPerRound;
    contenders.forEach((contender, index) => {
      const total = totals[index] ?? { wall: Number.NaN, cpu: Number.NaN };
      wall[contender.name]?.push((operations / total.wall) * 1000);
      // A chunk can finish within one tick of the CPU clock: no CPU rate for that round.
      cpu[contender.name]?.push(total.cpu > 0 ? (operations / total.cpu) * 1000 : Number.NaN);
    });
  }
  return { wall, cpu };
}

/**
 * Prints each contender's median ops/s and the median per-round ratio of `subject` to every
 * other contender, with the goal when one is given.
 */
export function report(
  title: string,
  samples: Samples,
  subject: string,
  goals: Record<string, number> = {},
): void {
  const format = (value: number) => Math.round(value).toLocaleString('en-US').padStart(10);
  const rounds = samples[subject]?.length ?? 0;
  console.log(`\n${title} (median ops/s over ${rounds} rounds)`);
  for (const [name, values] of Object.entries(samples))
    console.log(`  ${name.padEnd(34)} ${format(median(values.filter((value) => Number.isFinite(value))))}`);
  const mine = samples[subject] ?? [];
  for (const [name, values] of Object.entries(samples)) {
    if (name === subject) continue;
    const ratios = mine
      .map((value, index) => value / (values[index] ?? Number.NaN))
      .filter((ratio) => Number.isFinite(ratio));
    if (ratios.length === 0) continue;
    const ratio = median(ratios);
    const spread = `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;
    const goal = goals[name];
    const meeting = goal === undefined ? 0 : ratios.filter((value) => value >= goal).length;
    const verdict =
      goal === undefined
        ? ''
        : `; goal ≥ ${goal}: ${ratio >= goal ? 'met' : 'NOT met'}, ${meeting} of ${ratios.length} rounds at or above it`;
    console.log(`  ratio ${subject} / ${name}: ${ratio.toFixed(2)} (rounds ${spread}${verdict})`);
  }
}

/**
 * Starts this benchmark file again as a child process with the argument `serve` (so the server
 * under test has a core of its own), and answers the JSON line the child prints once it listens,
 * its process id, and `stop()`, which closes the child's stdin (its signal to shut down) and waits for it to exit.
 */
export async function startServerChild<T>(
  benchmarkUrl: string,
): Promise<{ info: T; pid: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(benchmarkUrl), 'serve'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: child.stdout }).once('line', resolve),
  );
  return {
    info: JSON.parse(line) as T,
    pid: child.pid ?? 0,
    stop: async () => {
      child.stdin.end();
      await new Promise((resolve) => child.on('close', resolve));
    },
  };
}

/**
 * CPU time (ms, user and system) each thread of process `pid` has used so far, by thread id, read
 * from Linux's `/proc` (an empty map elsewhere). The main thread's id is the process id.
 */
export function threadCpuTimes(pid: number): Map<number, number> {
  const times = new Map<number, number>();
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return times;
  }
  for (const thread of threads) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${thread}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state is the 3rd, utime the 14th, stime the 15th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      times.set(Number(thread), (ticks * 1000) / CLOCK_TICKS_PER_SECOND);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return times;
}

/** Linux's `USER_HZ`, the unit of `/proc/<pid>/stat` times: 100 on every common architecture. */
const CLOCK_TICKS_PER_SECOND = 100;
