import type { Coordinator } from './coordinator.js';
import { stopEnvironment } from './stop-environment.js';

/** Environments stopped per sweep; a later sweep takes the rest. */
const BATCH = 100;

/**
 * The auto-stop sweep (`environment:auto_stop_in`): stops every `available` environment whose
 * auto-stop time has passed, as the stop API does without a user (its stop jobs run as the users
 * they have). Runs in `tessera serve`'s periodic sweep on every node; each stop is a conditional
 * UPDATE, so one node stops an environment and the others skip it. Answers how many it stopped.
 */
export async function autoStopEnvironments(coordinator: Coordinator): Promise<number> {
  const now = coordinator.clock();
  const due = await coordinator.store.db
    .selectFrom('environments')
    .selectAll()
    .where('state', '=', 'available')
    .where('autoStopAt', '<=', now)
    .orderBy('autoStopAt')
    .limit(BATCH)
    .execute();
  let stopped = 0;
  for (const environment of due) {
    const stop = await stopEnvironment(coordinator, environment, { dueBy: now });
    if (stop.changed) stopped += 1;
  }
  return stopped;
}
