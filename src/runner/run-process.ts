import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Options of {@link runProcess}. */
export interface RunProcessOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The complete environment; nothing is inherited from the runner. */
  readonly env: Readonly<Record<string, string>>;
  /** Receives stdout and stderr bytes as they arrive, and which of the two they came from. */
  readonly onOutput: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  /** Kill the process group after this many milliseconds. */
  readonly timeoutMs: number;
  /** Aborting kills the process group (job cancelled). */
  readonly signal?: AbortSignal;
  /** Milliseconds between SIGTERM and SIGKILL; default 2000. */
  readonly killGraceMs?: number;
  /** Run as this uid and gid (the runner must be root); supplementary groups are dropped. */
  readonly uid?: number;
  readonly gid?: number;
  /** Told the process group id right after the spawn. */
  readonly onSpawn?: (pgid: number) => void;
  /** Called once when the process is cancelled or times out (a container CLI removes its container). */
  readonly onTerminate?: () => void;
  /**
   * Everything the process starts dies with it (it is a sandbox whose pid namespace ends with
   * it), so there are no leftovers in its process group to look for once it has exited: each
   * look reads every process's `/proc/<pid>/stat`.
   */
  readonly endsWithLeader?: boolean;
}

/** How a process ended. */
export interface RunProcessResult {
  /** The exit code, or null when a signal ended it. */
  readonly exitCode: number | null;
  /** The signal that ended it, if any. */
  readonly exitSignal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly canceled: boolean;
}

/**
 * Whether any live (non-zombie) process of the process group `pgid` remains. `kill(-pgid, 0)`
 * alone also counts zombies: a killed orphan whose new parent (PID 1 in some containers) never
 * reaps it stays a zombie forever, although it runs nothing and holds nothing. On Linux the
 * group's members are therefore checked in /proc.
 */
export function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z') return true;
  }
  return false;
}

/** Whether the process `pid` exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== 'linux') return true;
  const stat = readProcStat(pid);
  return stat === undefined ? true : stat.state !== 'Z';
}

function readProcStat(pid: number): { state: string; pgrp: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', pgrp: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * Runs a process in its own process group (a detached spawn makes it a session leader) with stdin
 * from /dev/null, and makes sure that nothing it started outlives it: on timeout or cancel the
 * whole group gets SIGTERM and, after a grace period, SIGKILL; when the main process exits by
 * itself, any background process it left in the group is ended the same way. It resolves after
 * `close`, so every byte of output has been delivered.
 *
 * A process that moves itself to another session (`setsid`) escapes the group; containing that
 * needs cgroups, which the shell executor does not use.
 */
export function runProcess(options: RunProcessOptions): Promise<RunProcessResult> {
  const grace = options.killGraceMs ?? 2000;
  return new Promise((resolve, reject) => {
    const child = spawn(options.command, [...options.args], {
      cwd: options.cwd,
      env: { ...options.env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.uid === undefined ? {} : { uid: options.uid }),
      ...(options.gid === undefined ? {} : { gid: options.gid }),
    });
    let timedOut = false;
    let canceled = false;
    let exited = false;
    let exitCode: number | null = null;
    let exitSignal: NodeJS.Signals | null = null;
    let killTimer: NodeJS.Timeout | undefined;
    let closeTimer: NodeJS.Timeout | undefined;
    let settled = false;
    const pgid = child.pid;
    const leftoversEnded = () =>
      pgid === undefined || (options.endsWithLeader === true && exited) || !processGroupAlive(pgid);
    if (pgid !== undefined) {
      try {
        options.onSpawn?.(pgid);
      } catch {
        // Bookkeeping only: the process runs and is watched either way.
      }
    }

    const terminateGroup = () => {
      if (pgid === undefined || killTimer !== undefined) return;
      signalGroup(pgid, 'SIGTERM');
      killTimer = setTimeout(() => signalGroup(pgid, 'SIGKILL'), grace);
      killTimer.unref();
    };
    let terminated = false;
    const terminateStep = () => {
      if (!terminated) {
        terminated = true;
        try {
          options.onTerminate?.();
        } catch {
          // The group is signalled either way.
        }
      }
      terminateGroup();
    };
    const onAbort = () => {
      // Once the main process has exited, its result stands; only leftovers are still ended.
      if (!exited) {
        canceled = true;
        terminateStep();
      } else terminateGroup();
    };
    const timeout = setTimeout(
      () => {
        timedOut = true;
        terminateStep();
      },
      Math.max(0, options.timeoutMs),
    );

    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timeout);
      clearTimeout(closeTimer);
      options.signal?.removeEventListener('abort', onAbort);
      // Resolve only once the whole group is gone, so that "the job ended" means "nothing of it runs".
      const giveUpAt = Date.now() + grace + 3000;
      const waitForGroup = () => {
        if (pgid !== undefined && !leftoversEnded() && Date.now() < giveUpAt) {
          terminateGroup();
          setTimeout(waitForGroup, 25);
          return;
        }
        clearTimeout(killTimer);
        resolve({ exitCode, exitSignal, timedOut, canceled });
      };
      waitForGroup();
    };

    child.stdout.on('data', (chunk: Buffer) => options.onOutput(chunk, 'stdout'));
    child.stderr.on('data', (chunk: Buffer) => options.onOutput(chunk, 'stderr'));
    child.on('error', (error) => {
      clearTimeout(timeout);
      options.signal?.removeEventListener('abort', onAbort);
      if (!settled) {
        settled = true;
        reject(error);
      }
    });
    child.on('exit', (code, signal) => {
      exited = true;
      clearTimeout(timeout);
      exitCode = code;
      exitSignal = signal;
      // Background processes left in the group would keep the pipes open and outlive the job.
      if (pgid !== undefined && !leftoversEnded()) terminateGroup();
      // A process that escaped the group may hold the pipes forever: do not wait on it past the grace.
      closeTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, grace + 1000);
    });
    child.on('close', finish);

    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
