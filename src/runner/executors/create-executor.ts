import { TesseraError } from '../../errors.js';
import type { JobUser } from '../job-user.js';
import { resolveJobUser } from '../job-user.js';
import { dockerExecutor, findDockerCli, parsePullPolicies } from './docker-executor.js';
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
  /** `--docker-cli`: `docker` (default) or `podman`, or a path to either. */
  readonly dockerCli?: string;
  /** `--docker-image`: the image of jobs that name none. */
  readonly dockerImage?: string;
  /** `--docker-network`: a network every job joins instead of one of its own. */
  readonly dockerNetwork?: string;
  /** `--docker-pull-policy`: `always` (default), `if-not-present`, `never`, or a comma list. */
  readonly dockerPullPolicy?: string;
}

/** The docker executor's flags, each falling back to its `TESSERA_RUNNER_DOCKER_*` variable. */
export function dockerChoice(flags: {
  dockerCli?: string;
  dockerImage?: string;
  dockerNetwork?: string;
  dockerPullPolicy?: string;
}): Pick<ExecutorChoice, 'dockerCli' | 'dockerImage' | 'dockerNetwork' | 'dockerPullPolicy'> {
  const env = process.env;
  const cli = flags.dockerCli ?? env.TESSERA_RUNNER_DOCKER_CLI;
  const image = flags.dockerImage ?? env.TESSERA_RUNNER_DOCKER_IMAGE;
  const network = flags.dockerNetwork ?? env.TESSERA_RUNNER_DOCKER_NETWORK;
  const pullPolicy = flags.dockerPullPolicy ?? env.TESSERA_RUNNER_DOCKER_PULL_POLICY;
  return {
    ...(cli ? { dockerCli: cli } : {}),
    ...(image ? { dockerImage: image } : {}),
    ...(network ? { dockerNetwork: network } : {}),
    ...(pullPolicy ? { dockerPullPolicy: pullPolicy } : {}),
  };
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

function createDockerExecutor(choice: ExecutorChoice): JobExecutor {
  const pullPolicy =
    choice.dockerPullPolicy === undefined ? undefined : parsePullPolicies(choice.dockerPullPolicy);
  if (pullPolicy === undefined && choice.dockerPullPolicy !== undefined) {
    throw new TesseraError(
      'ERR_CONFIG_INVALID',
      `--docker-pull-policy must be always, if-not-present or never (or a comma list of them), not "${choice.dockerPullPolicy}"`,
    );
  }
  const command = choice.dockerCli ?? 'docker';
  if (command.trim() === '' || command.startsWith('-')) {
    throw new TesseraError('ERR_CONFIG_INVALID', '--docker-cli must name docker, podman or a path to either');
  }
  const cli = findDockerCli(command);
  if ('reason' in cli) throw new TesseraError('ERR_CONFIG_INVALID', `--executor docker: ${cli.reason}`);
  return dockerExecutor({
    cli,
    ...(choice.dockerImage ? { defaultImage: choice.dockerImage } : {}),
    ...(choice.dockerNetwork ? { network: choice.dockerNetwork } : {}),
    ...(pullPolicy ? { pullPolicy } : {}),
  });
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
 * given); `sandbox` in bubblewrap; `docker` in containers through docker or podman; with no `--executor`, `sandbox` where bubblewrap can make a
 * sandbox and `shell` otherwise, with the reason (callers say it loudly: such jobs can read what
 * the runner can).
 *
 * @throws TesseraError `ERR_CONFIG_INVALID` for an unknown executor, `sandbox` named where
 *   bubblewrap cannot run, `docker` whose CLI cannot run, or a bad `--docker-pull-policy`.
 */
export function chooseExecutor(choice: ExecutorChoice): ChosenExecutor {
  const name = choice.name === undefined ? undefined : parseExecutorName(choice.name);
  const network = parseSandboxNetwork(choice.sandboxNetwork);
  if (name === 'shell') return { executor: shellExecutor(choice.jobUser) };
  if (name === 'docker') return { executor: createDockerExecutor(choice) };
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
