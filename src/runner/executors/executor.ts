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
  /** Lines for the job log while the executor prepares (image pulls). */
  readonly log?: (text: string) => void;
  /** Aborted when the job is cancelled or times out while the executor prepares. */
  readonly signal?: AbortSignal;
}

/**
 * Where a job's processes see its files when that is not where they are on the host (inside a
 * container): `CI_BUILDS_DIR`, `CI_PROJECT_DIR` and the job's private directory as the job sees them.
 */
export interface JobView {
  readonly buildsDir: string;
  readonly projectDir: string;
  readonly jobTempDir: string;
  /**
   * The image provides `PATH`, `HOME` and the locale: the runner sets only what the job's
   * variables name, and no runner tool directories.
   */
  readonly imageEnvironment: boolean;
}

/**
 * Why an executor could not prepare a job, with GitLab's failure reason for it (e.g.
 * `image_pull_failure`). Its message is written to the job log.
 */
export class ExecutorPreparationError extends Error {
  constructor(
    readonly failureReason: string,
    message: string,
  ) {
    super(message);
  }
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
  /**
   * Called once when the step is cancelled or times out, besides the signals to the process group:
   * a container CLI's client process ending does not end its container.
   */
  readonly onTerminate?: () => void;
  /** Everything the step starts dies with its main process (see `runProcess`). */
  readonly endsWithLeader?: boolean;
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
  /**
   * The runner checks out on the host and the job's shell runs no `git` (an image may lack it);
   * false or undefined: the job's shell may run the final `git checkout` itself.
   */
  readonly checksOutOnHost?: boolean;
  /** Where the job sees its files, when not at the host's paths; undefined: the host's paths. */
  jobView?(workspace: Pick<JobWorkspace, 'job' | 'buildsDir' | 'projectDir' | 'jobTempDir'>): JobView;
  /**
   * Removes what jobs of an earlier run of a runner with builds in `buildsDir` left behind (a
   * crashed runner's containers); answers how many things it removed. Never fails.
   */
  removeLeftovers?(buildsDir: string): Promise<number>;
  /** What the runner prints beside the executor's name at start (`podman 4.3.1`). */
  readonly detail?: string;
  /** Log lines that say, in the job log's header, how the job runs. */
  describe(job: JobPayload): string[];
  /** Prepares a job whose workspace is ready (checkout prepared, environment built). */
  open(workspace: JobWorkspace): Promise<ExecutorSession>;
}

/**
 * The log line that says a job's `image:` and `services:` are not used, for the executors that run
 * jobs on the runner's host; none when the job names neither.
 */
export function ignoredImageLines(job: JobPayload, executor: ExecutorName): string[] {
  const names = [job.image?.name, ...(job.services ?? []).map((service) => service.name)].filter(
    (name): name is string => typeof name === 'string' && name !== '',
  );
  if (names.length === 0) return [];
  return [
    `WARNING: image and services (${names.join(', ')}) are ignored: the ${executor} executor runs jobs on the runner's host (use --executor docker to run them)`,
  ];
}
