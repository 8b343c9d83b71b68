/** The outcome of {@link RateLimiter.hit}. */
export interface RateLimitResult {
  allowed: boolean;
  /** Whole seconds until the window resets (for `Retry-After`). */
  retryAfter: number;
}

/**
 * Fixed-window counters per key (a job, a client address), one window per `windowMs`. In memory:
 * each coordinator node limits on its own, which bounds abuse per node without a shared store.
 */
export class RateLimiter {
  readonly #windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs = 60_000,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Counts one event for `key` and answers whether it is within the limit. */
  hit(key: string): RateLimitResult {
    const now = this.clock();
    this.#sweep(now);
    let window = this.#windows.get(key);
    if (!window || now - window.start >= this.windowMs) {
      window = { start: now, count: 0 };
      this.#windows.set(key, window);
    }
    window.count += 1;
    return { allowed: window.count <= this.limit, retryAfter: this.#retryAfter(window, now) };
  }

  /** Whether `key` is over the limit right now, without counting an event. */
  check(key: string): RateLimitResult {
    const now = this.clock();
    const window = this.#windows.get(key);
    if (!window || now - window.start >= this.windowMs) return { allowed: true, retryAfter: 0 };
    return { allowed: window.count < this.limit, retryAfter: this.#retryAfter(window, now) };
  }

  #retryAfter(window: { start: number }, now: number): number {
    return Math.max(1, Math.ceil((window.start + this.windowMs - now) / 1000));
  }

  // Drops stale windows now and then so a flood of distinct keys cannot grow the map for ever.
  #sweep(now: number): void {
    if (this.#windows.size < 10_000) return;
    for (const [key, window] of this.#windows) {
      if (now - window.start >= this.windowMs) this.#windows.delete(key);
    }
  }
}
