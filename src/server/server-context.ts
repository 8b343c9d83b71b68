import type { Coordinator } from '../coordinator/coordinator.js';
import type { RateLimiter } from './rate-limiter.js';

/** What every route handler works with. */
export interface ServerContext {
  coordinator: Coordinator;
  /** Failed authentications per client address per minute. */
  authLimiter: RateLimiter;
  /** Token mints per job per minute (on-demand endpoint). */
  mintLimiter: RateLimiter;
}
