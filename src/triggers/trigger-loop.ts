import type { Coordinator } from '../coordinator/coordinator.js';
import { fireDueSchedules } from './schedules.js';
import { watchMirrors } from './update-mirror.js';

/** Where the loop reports what it did and what failed. */
export interface TriggerLoopLog {
  info(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** A running trigger loop. */
export interface TriggerLoop {
  /** Stops ticking and waits for the tick under way. */
  stop(): Promise<void>;
  /** Runs one tick now, or answers the one under way (tests). */
  tick(): Promise<void>;
}

/**
 * Every `tickMs`, fires the schedules that are due (see `fireDueSchedules`) and looks at the
 * mirrors that are due (see `watchMirrors`). One tick at a time per node; several nodes tick side
 * by side, and the claims in the database keep each schedule and each mirror to one of them.
 */
export function startTriggerLoop(
  coordinator: Coordinator,
  options: { tickMs: number; log: TriggerLoopLog },
): TriggerLoop {
  let running: Promise<void> | null = null;
  let stopped = false;
  const once = async () => {
    try {
      for (const fired of await fireDueSchedules(coordinator)) {
        if (fired.error === null) options.log.info({ ...fired }, 'pipeline schedule fired');
        else options.log.error({ ...fired }, 'pipeline schedule fired but no pipeline started');
      }
    } catch (error) {
      options.log.error({ err: error }, 'pipeline schedules: tick failed');
    }
    try {
      await watchMirrors(coordinator, {
        onUpdate: (projectId, update) => {
          if (update.error !== null)
            options.log.error({ projectId, error: update.error }, 'mirror update failed');
          for (const entry of update.pipelines) {
            options.log.info({ projectId, ...entry }, 'mirror: ref changed');
          }
        },
      });
    } catch (error) {
      options.log.error({ err: error }, 'mirror watcher: tick failed');
    }
  };
  const tick = () => {
    running ??= once().finally(() => {
      running = null;
    });
    return running;
  };
  const timer = setInterval(() => {
    if (!stopped && !coordinator.stopping) void tick();
  }, options.tickMs);
  timer.unref();
  return {
    tick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
