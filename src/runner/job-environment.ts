import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobView } from './executors/executor.js';
import type { JobVariable } from './job-variable.js';

/**
 * The `PATH` every job starts with. The runner's own `PATH` is not inherited (it may point into
 * the runner's private tool directories); jobs get the standard system directories only.
 */
export const MINIMAL_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Options of {@link buildJobEnvironment}. */
export interface JobEnvironmentOptions {
  /** The job's variables, in the coordinator's order (a later definition of a key wins). */
  readonly variables: readonly JobVariable[];
  /** The job's checkout (`CI_PROJECT_DIR`). */
  readonly projectDir: string;
  /** The root of all build directories (`CI_BUILDS_DIR`). */
  readonly buildsDir: string;
  /** A private per-job directory for file variables, `HOME` and `TMPDIR`; created if missing. */
  readonly jobTempDir: string;
  /** Directories put in front of {@link MINIMAL_PATH} (the runner's `tessera` shim). */
  readonly extraPath?: readonly string[];
  /**
   * Where the job sees its files when not at the host's paths (a container): the environment names
   * these paths, while files are still written at the host's.
   */
  readonly view?: JobView;
}

/** The environment of a job's shell and the values its log must mask. */
export interface JobEnvironment {
  /** The complete environment of the job's processes; nothing else is inherited. */
  readonly env: Readonly<Record<string, string>>;
  /** Every masked variable's value (for file variables, the file's content). */
  readonly maskedValues: readonly string[];
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Builds a job's environment explicitly from its variables plus a minimal `PATH`, a per-job `HOME`
 * and `TMPDIR`, and `LANG`, and never from the runner's own `process.env`, so that nothing of the
 * runner (its token, its cloud credentials) leaks into a job. File-type variables are written to
 * files (mode 0600) in the job's temp directory and the variable holds the path, as GitLab does.
 */
export async function buildJobEnvironment(options: JobEnvironmentOptions): Promise<JobEnvironment> {
  const home = join(options.jobTempDir, 'home');
  const tmp = join(options.jobTempDir, 'tmp');
  const files = join(options.jobTempDir, 'files');
  await mkdir(home, { recursive: true, mode: 0o700 });
  await mkdir(tmp, { recursive: true, mode: 0o700 });
  await mkdir(files, { recursive: true, mode: 0o700 });

  const view = options.view;
  const seen = (path: string) =>
    view === undefined ? path : join(view.jobTempDir, path.slice(options.jobTempDir.length));
  const buildsDir = view?.buildsDir ?? options.buildsDir;
  const projectDir = view?.projectDir ?? options.projectDir;
  const env: Record<string, string> = view?.imageEnvironment
    ? { CI_SERVER: 'yes', CI_BUILDS_DIR: buildsDir, CI_PROJECT_DIR: projectDir }
    : {
        PATH: [...(options.extraPath ?? []), MINIMAL_PATH].join(':'),
        HOME: seen(home),
        TMPDIR: seen(tmp),
        LANG: 'C.UTF-8',
        CI_SERVER: 'yes',
        CI_BUILDS_DIR: buildsDir,
        CI_PROJECT_DIR: projectDir,
      };
  const masked: string[] = [];
  for (const variable of options.variables) {
    // A name bash cannot hold (or one with `=`) would corrupt the environment block; skip it.
    if (!VARIABLE_NAME.test(variable.key)) continue;
    if (variable.masked) masked.push(variable.value);
    if (variable.file) {
      const path = join(files, variable.key);
      await writeFile(path, variable.value, { mode: 0o600 });
      env[variable.key] = seen(path);
    } else {
      env[variable.key] = variable.value;
    }
  }
  // The runner owns these: a job variable must not move the checkout or the home directory away.
  env.CI_PROJECT_DIR = projectDir;
  env.CI_BUILDS_DIR = buildsDir;
  return { env, maskedValues: masked };
}
