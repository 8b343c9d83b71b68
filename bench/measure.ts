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
    console.log(`  ${name.padEnd(34)} ${format(median(values))}`);
  const mine = samples[subject] ?? [];
  for (const [name, values] of Object.entries(samples)) {
    if (name === subject) continue;
    const ratios = mine.map((value, index) => value / (values[index] ?? Number.NaN));
    const ratio = median(ratios);
    const spread = `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;
    const goal = goals[name];
    const verdict =
      goal === undefined ? '' : ratio >= goal ? `; goal ≥ ${goal}: met` : `; goal ≥ ${goal}: NOT met`;
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
