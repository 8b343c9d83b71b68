import type { Coordinator } from '../coordinator/coordinator.js';
import type { RateLimiter } from './rate-limiter.js';

/** What every route handler works with. */
export interface ServerContext {
  coordinator: Coordinator;
  /** Failed authentications per client address per minute. */
  authLimiter: RateLimiter;
  /** Token mints per job per minute (on-demand endpoint). */
  mintLimiter: RateLimiter;
  /** Introspection requests per caller per minute. */
  introspectionLimiter: RateLimiter;
  /** SHA-256 of the operator's instance introspection token (`TESSERA_INTROSPECTION_TOKEN`), if set. */
  introspectionTokenHash: string | undefined;
  /** SHA-256 of the metrics bearer token (`TESSERA_METRICS_TOKEN`), if set. */
  metricsTokenHash: string | undefined;
}
