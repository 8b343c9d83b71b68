import { TesseraError } from '../../errors.js';
import type { JobUser } from '../job-user.js';
import { resolveJobUser } from '../job-user.js';
import { EXECUTOR_NAMES, type ExecutorName, type JobExecutor } from './executor.js';
import { findBubblewrap, type SandboxNetwork, sandboxExecutor } from './sandbox-executor.js';
import { shellExecutor } from './shell-executor.js';

/** What a runner's flags say about its executor. */
export interface ExecutorChoice {
  /** `--executor`; undefined: `sandbox` where bubblewrap works, else `shell` ({@link ExecutorChoice.fallback}). */
  readonly name?: string;
  /** `--job-user`: run jobs as this account (the runner must be root). */
  readonly jobUser?: JobUser;
  /** `--sandbox-network`: `host` (default) or `none`. */
  readonly sandboxNetwork?: string;
  /** The Tessera installation jobs run `tessera` from. */
  readonly installRoot?: string;
  /** Paths no job may see (the coordinator's data directory). */
  readonly hiddenPaths?: readonly string[];
}

/** The executor chosen, and, when the default fell back to `shell`, why. */
export interface ChosenExecutor {
  readonly executor: JobExecutor;
  /** Why `sandbox` could not be used when no executor was named; undefined otherwise. */
  readonly fallbackReason?: string;
}

/** Parses `--executor`. */
export function parseExecutorName(value: string): ExecutorName {
  const name = EXECUTOR_NAMES.find((candidate) => candidate === value);
  if (name === undefined) {
    throw new TesseraError(
      'ERR_CONFIG_INVALID',
      `--executor must be one of ${EXECUTOR_NAMES.join(', ')}, not "${value}"`,
    );
  }
  return name;
}

function parseSandboxNetwork(value: string | undefined): SandboxNetwork {
  if (value === undefined || value === 'host') return 'host';
  if (value === 'none') return 'none';
  throw new TesseraError('ERR_CONFIG_INVALID', `--sandbox-network must be host or none, not "${value}"`);
}

/**
 * The account a sandbox runs as: a root runner never runs a job as root, so it takes `--job-user`
 * or else `nobody`; a runner that is not root runs the sandbox as itself.
 */
function sandboxUser(jobUser: JobUser | undefined): JobUser | undefined {
  if (process.getuid?.() !== 0) return jobUser;
  if (jobUser !== undefined) return jobUser;
  try {
    return resolveJobUser('nobody');
  } catch {
    return { name: 'nobody', uid: 65534, gid: 65534 };
  }
}

/**
 * The executor a runner's flags ask for. `shell` runs jobs on the host (as `--job-user` when
 * given); `sandbox` in bubblewrap; with no `--executor`, `sandbox` where bubblewrap can make a
 * sandbox and `shell` otherwise, with the reason (callers say it loudly: such jobs can read what
 * the runner can).
 *
 * @throws TesseraError `ERR_CONFIG_INVALID` for an unknown executor, or `sandbox` named where
 *   bubblewrap cannot run.
 */
export function chooseExecutor(choice: ExecutorChoice): ChosenExecutor {
  const name = choice.name === undefined ? undefined : parseExecutorName(choice.name);
  const network = parseSandboxNetwork(choice.sandboxNetwork);
  if (name === 'shell') return { executor: shellExecutor(choice.jobUser) };
  if (name === 'docker') {
    throw new TesseraError('ERR_CONFIG_INVALID', '--executor docker is not available in this build');
  }
  const user = sandboxUser(choice.jobUser);
  const found = findBubblewrap(user);
  if ('reason' in found) {
    if (name === 'sandbox')
      throw new TesseraError('ERR_CONFIG_INVALID', `--executor sandbox: ${found.reason}`);
    return { executor: shellExecutor(choice.jobUser), fallbackReason: found.reason };
  }
  return {
    executor: sandboxExecutor({
      bwrap: found.bwrap,
      network,
      ...(user ? { jobUser: user } : {}),
      ...(choice.installRoot ? { installRoot: choice.installRoot } : {}),
      ...(choice.hiddenPaths ? { hiddenPaths: choice.hiddenPaths } : {}),
    }),
  };
}
