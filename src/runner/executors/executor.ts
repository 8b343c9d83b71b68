import type { JobPayload } from '../job-payload.js';
import type { JobUser } from '../job-user.js';

/** The executors a runner can run jobs with (`--executor`). */
export const EXECUTOR_NAMES = ['shell', 'sandbox', 'docker'] as const;

/** One of {@link EXECUTOR_NAMES}. */
export type ExecutorName = (typeof EXECUTOR_NAMES)[number];

/** Where one job's files are on the runner's host, made by the runner before the executor opens. */
export interface JobWorkspace {
  readonly job: JobPayload;
  /** Root of every job's build directory (`CI_BUILDS_DIR`). */
  readonly buildsDir: string;
  /** The job's build directory, parent of the checkout. */
  readonly jobRoot: string;
  /** The job's private directory: scripts, `HOME`, `TMPDIR`, file variables. */
  readonly jobTempDir: string;
  /** The checkout (`CI_PROJECT_DIR`). */
  readonly projectDir: string;
  /** Directories on the job's `PATH` that the runner provides (the `tessera` command). */
  readonly toolDirs: readonly string[];
}

/** How to start one step's bash: what {@link runProcess} spawns. */
export interface StepCommand {
  readonly command: string;
  readonly args: readonly string[];
  /** The environment of the spawned process (for a sandbox: of bubblewrap, which hands it on). */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly uid?: number;
  readonly gid?: number;
}

/** One job's open executor: starts its steps, and releases what it holds at the end. */
export interface ExecutorSession {
  /** The command that runs `bash scriptFile` with the job's environment `env`. */
  step(scriptFile: string, env: Readonly<Record<string, string>>): StepCommand;
  /** Releases what the job held outside its processes; never fails. */
  close(): Promise<void>;
}

/**
 * What runs a job's steps, and how far the job is kept from the runner and the host
 * (`docs/runner.md` says what each executor isolates and what not).
 */
export interface JobExecutor {
  readonly name: ExecutorName;
  /**
   * The unprivileged account the job's processes run as, when the runner switches users: the
   * runner hands the job's files to it before the first step. Undefined: the runner's own user.
   */
  readonly jobUser?: JobUser;
  /** Log lines that say, in the job log's header, how the job runs. */
  describe(job: JobPayload): string[];
  /** Prepares a job whose workspace is ready (checkout prepared, environment built). */
  open(workspace: JobWorkspace): Promise<ExecutorSession>;
}
