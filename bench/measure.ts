/**
 * Benchmark harness shared by `bench/*.bench.ts`: candidates run in interleaved rounds of a
 * fixed duration (so machine noise hits all of them alike), after a discarded warm-up round, and
 * each reports the median operations per second over the rounds.
 */
import { performance } from 'node:perf_hooks';

/** One contender: a name and one operation (sync or async). */
export interface Contender {
  name: string;
  run: () => unknown;
}

/** Median ops/s per contender name. */
export type Medians = Record<string, number>;

async function round(contender: Contender, durationMs: number): Promise<number> {
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

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Runs every contender for `rounds` interleaved rounds of `durationMs` and answers the medians. */
export async function compare(
  contenders: readonly Contender[],
  options: { rounds?: number; durationMs?: number } = {},
): Promise<Medians> {
  const rounds = options.rounds ?? 5;
  const durationMs = options.durationMs ?? 200;
  for (const contender of contenders) await round(contender, Math.min(100, durationMs));
  const samples = new Map<string, number[]>(contenders.map((contender) => [contender.name, []]));
  for (let index = 0; index < rounds; index += 1) {
    for (const contender of contenders) samples.get(contender.name)?.push(await round(contender, durationMs));
  }
  return Object.fromEntries([...samples].map(([name, values]) => [name, median(values)]));
}

/** Prints one line per contender and the ratio of `subject` to each baseline. */
export function report(
  title: string,
  medians: Medians,
  subject: string,
  goals: Record<string, number> = {},
): void {
  const format = (value: number) => Math.round(value).toLocaleString('en-US').padStart(10);
  console.log(`\n${title} (median ops/s over rounds)`);
  for (const [name, value] of Object.entries(medians)) console.log(`  ${name.padEnd(34)} ${format(value)}`);
  const mine = medians[subject] ?? 0;
  for (const [name, value] of Object.entries(medians)) {
    if (name === subject) continue;
    const ratio = mine / value;
    const goal = goals[name];
    const verdict =
      goal === undefined ? '' : ratio >= goal ? `  (goal ≥ ${goal}: met)` : `  (goal ≥ ${goal}: NOT met)`;
    console.log(`  ratio ${subject} / ${name}: ${ratio.toFixed(2)}${verdict}`);
  }
}
