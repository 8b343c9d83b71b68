import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { processGroupAlive } from './run-process.js';

/** Directory under the builds directory where running jobs' process groups are recorded. */
export const PROCESS_GROUPS_DIR = '.process-groups';

interface Record {
  readonly pgid: number;
  /** The leader's start time (clock ticks since boot, /proc/<pid>/stat field 22), against pid reuse. */
  readonly startTime: string | null;
}

function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * Records that the job step `name` runs as process group `pgid`, so that a runner started after
 * this one was killed (SIGKILL, OOM, a crash: no chance to clean up) can end what it left running.
 * Synchronous on purpose: the record exists before the process can end and be forgotten.
 */
export function recordProcessGroup(buildsDir: string, name: string, pgid: number): void {
  const dir = join(buildsDir, PROCESS_GROUPS_DIR);
  mkdirSync(dir, { recursive: true });
  const record: Record = { pgid, startTime: startTimeOf(pgid) };
  writeFileSync(join(dir, `${name}.json`), JSON.stringify(record));
}

/** Forgets a recorded process group (it ended normally). */
export async function forgetProcessGroup(buildsDir: string, name: string): Promise<void> {
  await rm(join(buildsDir, PROCESS_GROUPS_DIR, `${name}.json`), { force: true });
}

/**
 * Kills (SIGKILL) every recorded process group that is still alive: jobs of a previous runner
 * process on this builds directory that died without ending them. A group whose leader's pid now
 * belongs to a different process (same pid, other start time) is left alone. Answers how many
 * groups were killed. Call before taking new jobs.
 */
export async function reapOrphanProcessGroups(buildsDir: string): Promise<number> {
  const dir = join(buildsDir, PROCESS_GROUPS_DIR);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let killed = 0;
  for (const name of names) {
    const path = join(dir, name);
    try {
      const record = JSON.parse(await readFile(path, 'utf8')) as Record;
      const leaderStart = startTimeOf(record.pgid);
      // Linux never hands out a pid still in use as a process group id, so a live group whose
      // leader is gone is still the job's; a live leader must be the same process as recorded.
      // Without a recorded start time (not Linux) a live leader cannot be told from a new process.
      const reused = leaderStart !== null && leaderStart !== record.startTime;
      if (Number.isSafeInteger(record.pgid) && record.pgid > 1 && !reused && processGroupAlive(record.pgid)) {
        try {
          process.kill(-record.pgid, 'SIGKILL');
          killed += 1;
        } catch {
          // gone meanwhile
        }
      }
    } catch {
      // unreadable record: drop it
    }
    await rm(path, { force: true });
  }
  return killed;
}
