import type { RunnerRecord } from '../store/repositories/runners.js';

/** One waiting `POST /jobs/request`: how to wake it. */
interface Waiter {
  readonly wake: () => void;
}

/**
 * What decides which pending jobs a runner may take (its scope, tags, `run_untagged` and access
 * level): runners with the same key find the same jobs eligible.
 */
export function eligibilityKey(runner: RunnerRecord): string {
  return JSON.stringify([
    runner.runnerType,
    runner.groupId,
    runner.projectId,
    [...runner.tagList].sort(),
    runner.runUntagged,
    runner.accessLevel,
  ]);
}

/**
 * The long polls waiting for a job, queued per eligibility key, longest waiting first. A new-job
 * event wakes one waiter per key instead of every waiter (a profile of 100 polling runners
 * showed each event waking them all, each re-reading the queue, though at most a few could win
 * the new job); a woken waiter that claims a job wakes the next of its key ({@link relay}), so a
 * burst of jobs is still taken by as many runners as there are jobs, and one that finds nothing
 * ends the relay, since every other waiter of its key would find nothing too. Jobs queued on
 * another node are found by each waiter's periodic look at the database.
 */
export class JobWaiters {
  private readonly queues = new Map<string, Waiter[]>();

  /** Resolves when woken, after `timeoutMs`, or when `signal` aborts, whichever comes first. */
  wait(key: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let queue = this.queues.get(key);
      if (!queue) {
        queue = [];
        this.queues.set(key, queue);
      }
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.remove(key, waiter);
        resolve();
      };
      const waiter: Waiter = { wake: done };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      queue.push(waiter);
      if (signal.aborted) done();
    });
  }

  /** A job may be pending now: wakes the longest waiting poll of each key. */
  wakeOnePerKey(): void {
    for (const key of [...this.queues.keys()]) this.relay(key);
  }

  /** A waiter of `key` claimed a job: there may be more for its key, so wake the next one. */
  relay(key: string): void {
    this.queues.get(key)?.[0]?.wake();
  }

  /** Wakes every waiting poll (the server is stopping). */
  wakeAll(): void {
    for (const queue of [...this.queues.values()]) for (const waiter of [...queue]) waiter.wake();
  }

  /** How many polls are waiting. */
  get size(): number {
    let total = 0;
    for (const queue of this.queues.values()) total += queue.length;
    return total;
  }

  private remove(key: string, waiter: Waiter): void {
    const queue = this.queues.get(key);
    if (!queue) return;
    const index = queue.indexOf(waiter);
    if (index >= 0) queue.splice(index, 1);
    if (queue.length === 0) this.queues.delete(key);
  }
}
