import type { Coordinator } from './coordinator.js';

/** Placeholder until the job state machine lands. */
export async function expireLeases(_coordinator: Coordinator): Promise<number> {
  return 0;
}
