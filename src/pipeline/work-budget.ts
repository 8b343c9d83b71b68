import { PIPELINE_LIMITS } from './limits.js';

/** Thrown by {@link WorkBudget.charge} past the limit; {@link loadPipeline} turns it into one error. */
export class WorkLimitExceeded extends Error {}

/**
 * Counts the nodes that the normalising passes (include merges, `!reference` splices, `extends`
 * merges) create. Those passes share subtrees instead of copying them, but every merge and splice
 * still costs its width, and a hostile file can multiply that (a 60,000-item list spliced into 4,000
 * jobs); the budget stops such a file in milliseconds.
 */
export class WorkBudget {
  private used = 0;

  constructor(readonly limit: number = PIPELINE_LIMITS.maxExpandedNodes) {}

  /** Adds `amount` units of work; throws {@link WorkLimitExceeded} past the limit. */
  charge(amount: number): void {
    this.used += amount;
    if (this.used > this.limit) throw new WorkLimitExceeded();
  }
}
