import { chown, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobExecutor, JobWorkspace } from './executors/executor.js';
import type { JobLog } from './job-log.js';
import type { JobPayload } from './job-payload.js';
import { allowTraverse, giveToJobUser, type JobUser } from './job-user.js';
import { type RunProcessResult, runProcess } from './run-process.js';
import { writeScriptFile } from './script-file.js';

/**
 * The entries of a job's private directory that its `pre_get_sources_script` hook may already have
 * changed and that the job keeps (`HOME`, `TMPDIR`, file variables): the runner never writes into
 * them afterwards (see {@link giveTempDirToJobUser}). Everything else there is removed after the hook.
 */
const HOOK_OWNED_ENTRIES = new Set(['home', 'tmp', 'files']);

/** The hook's script file in the job's private directory. */
const HOOK_SCRIPT = 'pre_get_sources_script.sh';

/**
 * The commands of the job's `pre_get_sources_script` hook (GitLab's payload `hooks` entry of that
 * name; GitLab Runner takes the first), blank ones left out. Empty when the job has none.
 *
 * @example preGetSourcesCommands({ …job, hooks: [{ name: 'pre_get_sources_script', script: ['id'] }] }) // ['id']
 */
export function preGetSourcesCommands(job: JobPayload): string[] {
  const hook = (job.hooks ?? []).find((entry) => entry.name === 'pre_get_sources_script');
  return (hook?.script ?? []).filter((command) => command.trim() !== '');
}

/** Options of {@link runPreGetSourcesHook}. */
export interface PreGetSourcesHookOptions {
  readonly commands: readonly string[];
  readonly executor: JobExecutor;
  /** The job's directories; the checkout does not exist yet. */
  readonly workspace: JobWorkspace;
  /** The job's environment, as its script gets it. */
  readonly env: Readonly<Record<string, string>>;
  /** The job's log: the hook's output goes through its masking like the script's. */
  readonly log: JobLog;
  /** Milliseconds left of the job's timeout. */
  readonly timeoutMs: number;
  /** The job's cancel. */
  readonly signal?: AbortSignal;
  readonly killGraceMs?: number;
  /** Told the hook's process group (recorded like the script's). */
  readonly onSpawn?: (pgid: number) => void;
}

/**
 * Runs a job's `hooks:pre_get_sources_script` before its sources are fetched, as GitLab Runner
 * runs it at the start of its `get_sources` stage: the commands in a bash of their own, with the
 * job's executor, environment, masking and remaining timeout, in the job's empty project
 * directory (the checkout replaces it and whatever the hook left there).
 *
 * The runner writes files after the hook (the checkout, the script files, downloaded artifacts)
 * where a hook in a sandbox or a container could write too: once the hook has ended (and with it
 * every process it started there), every entry of the private directory but `HOME`, `TMPDIR` and
 * the file variables is removed, so that no link the hook placed is followed. With a job user,
 * whose processes may outlive the hook, the hook gets only what is its own anyway: the empty
 * project directory and those three; the directories above stay the runner's, so nothing the
 * hook leaves running can place a link where the runner then writes as itself.
 *
 * Answers the hook's process result, or undefined when bash could not be started.
 */
export async function runPreGetSourcesHook(
  options: PreGetSourcesHookOptions,
): Promise<RunProcessResult | undefined> {
  const { workspace, executor } = options;
  const jobUser = executor.jobUser;
  await mkdir(workspace.projectDir, { recursive: true });
  const scriptFile = await writeScriptFile(join(workspace.jobTempDir, HOOK_SCRIPT), options.commands);
  if (jobUser) {
    await allowTraverse(workspace.buildsDir);
    await allowTraverse(workspace.jobRoot);
    await allowTraverse(workspace.jobTempDir);
    await giveToJobUser(workspace.projectDir, jobUser);
    await giveToJobUser(scriptFile, jobUser);
    for (const entry of HOOK_OWNED_ENTRIES) await giveToJobUser(join(workspace.jobTempDir, entry), jobUser);
  }
  const session = await executor.open(workspace);
  try {
    return await runProcess({
      ...session.step(scriptFile, options.env),
      onOutput: (chunk, stream) => options.log.write(stream, chunk),
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      killGraceMs: options.killGraceMs,
      onSpawn: options.onSpawn,
    })
      .finally(() => options.log.endStep())
      .catch((error: unknown) => {
        options.log.line(`ERROR: cannot start bash: ${error instanceof Error ? error.message : 'unknown'}`);
        return undefined;
      });
  } finally {
    await session.close();
    for (const entry of await readdir(workspace.jobTempDir)) {
      if (!HOOK_OWNED_ENTRIES.has(entry))
        await rm(join(workspace.jobTempDir, entry), { recursive: true, force: true });
    }
  }
}

/**
 * Hands a job's private directory to the job user after a {@link runPreGetSourcesHook} ran as that
 * user: everything the runner wrote there since, and the directory itself, but never a walk into
 * what the hook could change meanwhile (a link swapped in during the walk would make the runner
 * chown files outside the job).
 */
export async function giveTempDirToJobUser(jobTempDir: string, user: JobUser): Promise<void> {
  // The directory is still the runner's: the hook could add no entry of its own to it.
  for (const entry of await readdir(jobTempDir)) {
    if (!HOOK_OWNED_ENTRIES.has(entry)) await giveToJobUser(join(jobTempDir, entry), user);
  }
  await chown(jobTempDir, user.uid, user.gid);
}
