import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { chmod, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { JobPayload } from '../job-payload.js';
import type { JobUser } from '../job-user.js';
import { type ExecutorSession, ignoredImageLines, type JobExecutor, type JobWorkspace } from './executor.js';

/** Whether a sandboxed job shares the host's network (the default: jobs call Vault and clouds). */
export type SandboxNetwork = 'host' | 'none';

/** Options of {@link sandboxExecutor}. */
export interface SandboxExecutorOptions {
  /** The bubblewrap binary ({@link findBubblewrap}). */
  readonly bwrap: string;
  /** `host` (default) or `none` (a network namespace of its own with only loopback). */
  readonly network?: SandboxNetwork;
  /**
   * The host account the sandbox runs as when the runner is root (the job is never root inside):
   * `--job-user`, else `nobody`. Undefined when the runner is not root: the sandbox runs as the
   * runner's own user, which the sandbox keeps away from every file it does not mount.
   */
  readonly jobUser?: JobUser;
  /**
   * The Tessera installation the `tessera` command inside jobs runs from; its `bin`, `dist`, `src`,
   * `node_modules` and `package.json` are mounted read-only (nothing else of it: a data directory
   * beside them stays out).
   */
  readonly installRoot?: string;
  /**
   * Paths that must never be visible in a job (the coordinator's data directory): when one lies
   * under a mounted directory, an empty directory covers it.
   */
  readonly hiddenPaths?: readonly string[];
}

/** Host directories every sandbox gets read-only: programs, libraries, configuration. */
const SYSTEM_DIRECTORIES = ['/usr', '/etc', '/opt'];
/** Top-level names that are links into `/usr` on merged-usr systems, or directories elsewhere. */
const SYSTEM_LINKS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];
/**
 * The parts of a Tessera installation that `tessera id-token` needs: with a built bundle, `bin`
 * and `dist` (`bin/tessera.js` takes the bundle when it cannot see `src`); from a checkout without
 * one, the sources and what runs them.
 */
function installParts(installRoot: string): string[] {
  const built = existsSync(join(installRoot, 'dist', 'cli-bundle', 'main.cjs'));
  return (built ? ['bin', 'dist'] : ['bin', 'src', 'node_modules', 'package.json', 'tsconfig.json']).map(
    (part) => join(installRoot, part),
  );
}

/**
 * A minimal `/dev`: the character devices programs expect and the links to this process's
 * descriptors. bubblewrap's `--dev` also mounts a `devpts`, which costs more than the rest of the
 * sandbox; jobs run without a terminal.
 */
const DEVICES = ['null', 'zero', 'random', 'urandom'];
const DEVICE_ARGUMENTS = [
  '--tmpfs',
  '/dev',
  ...DEVICES.flatMap((device) => ['--dev-bind', `/dev/${device}`, `/dev/${device}`]),
  ...['stdin', 'stdout', 'stderr'].flatMap((stream, fd) => [
    '--symlink',
    `/proc/self/fd/${fd}`,
    `/dev/${stream}`,
  ]),
  '--symlink',
  '/proc/self/fd',
  '/dev/fd',
  '--dir',
  '/dev/shm',
];

function isInside(path: string, directory: string): boolean {
  const inside = relative(directory, path);
  return inside === '' || (!inside.startsWith('..') && !isAbsolute(inside));
}

/**
 * The object directories a checkout reads through git's alternates: the runner's bare cache of
 * this repository and, for `tessera run`, the working copy's. Mounted read-only so that git
 * works in the job and no job can change what a later job checks out.
 */
export function borrowedObjectDirectories(projectDir: string): string[] {
  const found: string[] = [];
  const pending = [join(projectDir, '.git', 'objects')];
  while (pending.length > 0 && found.length < 16) {
    const objects = pending.shift() as string;
    let text = '';
    try {
      text = readFileSync(join(objects, 'info', 'alternates'), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const entry = line.trim();
      if (entry === '' || entry.startsWith('#')) continue;
      const path = resolve(objects, entry);
      if (!found.includes(path)) {
        found.push(path);
        pending.push(path);
      }
    }
  }
  return found;
}

/** What a sandbox mounts from the host: read-only paths, and the job's own writable directories. */
function sandboxMounts(options: SandboxExecutorOptions, workspace: JobWorkspace) {
  const readOnly = [...SYSTEM_DIRECTORIES];
  if (!isInside(process.execPath, '/usr')) readOnly.push(process.execPath);
  if (options.installRoot !== undefined) readOnly.push(...installParts(options.installRoot));
  readOnly.push(...workspace.toolDirs, ...borrowedObjectDirectories(workspace.projectDir));
  return { readOnly, writable: [workspace.jobRoot, workspace.jobTempDir] };
}

/**
 * Gives every directory above `path` the search bit for others (`o+x`: enter, not list), so that
 * bubblewrap, started as the unprivileged job user, can reach what it mounts. Walks down from `/`
 * and remembers a directory only once it is done, so that jobs starting together never mount
 * before the path is open (two of them may both fix one directory: harmless).
 */
async function letJobUserReach(path: string, reached: Set<string>): Promise<void> {
  const above: string[] = [];
  for (let directory = dirname(path); ; directory = dirname(directory)) {
    above.unshift(directory);
    if (directory === dirname(directory)) break;
  }
  for (const directory of above) {
    if (reached.has(directory)) continue;
    const mode = await stat(directory).then(
      (found) => found.mode,
      () => undefined,
    );
    if (mode !== undefined && (mode & 0o001) === 0) await chmod(directory, (mode & 0o7777) | 0o001);
    reached.add(directory);
  }
}

/**
 * The bubblewrap arguments that run `bash scriptFile` for a job: new user, pid, ipc, uts and
 * mount namespaces (and network with `none`); the host's system directories read-only; the
 * job's build and temporary directories the only writable places besides a private `/tmp`; the
 * repository objects it borrows and the Tessera installation read-only; `/proc` of its own pid
 * namespace, a minimal `/dev` ({@link DEVICE_ARGUMENTS}). Nothing else of the host is mounted: not the runner's builds root,
 * other jobs' directories, the coordinator's data directory, nor any home directory. bubblewrap
 * dies with the runner, and every process of the job dies with the pid namespace when its main
 * process ends (`setsid` and double forks included).
 */
export function sandboxArguments(
  options: SandboxExecutorOptions,
  workspace: JobWorkspace,
  scriptFile: string,
): string[] {
  const args = ['--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts'];
  if (options.network === 'none') args.push('--unshare-net');
  args.push('--die-with-parent', '--hostname', `tessera-job-${workspace.job.id}`);
  // First the kernel's file systems and the private /tmp, so that nothing mounted below is covered.
  args.push('--proc', '/proc', ...DEVICE_ARGUMENTS, '--tmpfs', '/tmp');
  const { readOnly, writable } = sandboxMounts(options, workspace);
  for (const link of SYSTEM_LINKS) {
    let found: ReturnType<typeof lstatSync>;
    try {
      found = lstatSync(link);
    } catch {
      continue;
    }
    if (found.isSymbolicLink()) args.push('--symlink', readlinkSync(link), link);
    else readOnly.push(link);
  }
  // /etc/resolv.conf points here on hosts with systemd-resolved.
  readOnly.push('/run/systemd/resolve');
  for (const path of readOnly) args.push('--ro-bind-try', path, path);
  for (const hidden of options.hiddenPaths ?? []) {
    const path = resolve(hidden);
    if (readOnly.some((directory) => isInside(path, directory)) && existsSync(path)) {
      args.push('--tmpfs', path);
    }
  }
  for (const path of writable) args.push('--bind', path, path);
  args.push('--chdir', workspace.projectDir, '--', 'bash', '--noprofile', '--norc', scriptFile);
  return args;
}

/**
 * The `sandbox` executor: every job in its own bubblewrap sandbox ({@link sandboxArguments}).
 * bubblewrap starts with the job's environment and nothing else, so neither the job's environment
 * nor `/proc/1/environ` inside shows anything of the runner's.
 */
export function sandboxExecutor(options: SandboxExecutorOptions): JobExecutor {
  const network = options.network ?? 'host';
  const reached = new Set<string>(['/usr', '/etc', '/opt']);
  return {
    name: 'sandbox',
    ...(options.jobUser ? { jobUser: options.jobUser } : {}),
    describe: (job: JobPayload) => [
      `Using bubblewrap for job ${job.id}${job.job_info?.name ? ` (${job.job_info.name})` : ''}: ${
        network === 'none' ? 'no network' : "the host's network"
      }${options.jobUser ? `, as ${options.jobUser.name}` : ''}`,
      ...ignoredImageLines(job, 'sandbox'),
    ],
    open: async (workspace: JobWorkspace): Promise<ExecutorSession> => {
      if (options.jobUser) {
        const { readOnly, writable } = sandboxMounts(options, workspace);
        for (const path of [...readOnly, ...writable]) await letJobUserReach(path, reached);
      }
      return {
        step: (scriptFile, env) => ({
          command: options.bwrap,
          args: sandboxArguments({ ...options, network }, workspace, scriptFile),
          env,
          cwd: workspace.jobRoot,
          // The pid namespace ends with bubblewrap: nothing of the job outlives it.
          endsWithLeader: true,
          ...(options.jobUser ? { uid: options.jobUser.uid, gid: options.jobUser.gid } : {}),
        }),
        close: async () => undefined,
      };
    },
  };
}

/**
 * Finds a bubblewrap that can make a sandbox here (as `jobUser` when given): the binary on the
 * runner's `PATH` or in `/usr/bin`, tried once with the namespaces a job gets. Answers its path,
 * or why there is none.
 */
export function findBubblewrap(jobUser?: JobUser): { bwrap: string } | { reason: string } {
  const candidates = [
    ...(process.env.PATH ?? '')
      .split(':')
      .filter((dir) => dir !== '')
      .map((dir) => join(dir, 'bwrap')),
    '/usr/bin/bwrap',
  ];
  const bwrap = candidates.find((path) => existsSync(path));
  if (bwrap === undefined) return { reason: 'bubblewrap is not installed (apt-get install bubblewrap)' };
  const trial = spawnSync(
    bwrap,
    ['--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--ro-bind', '/', '/', 'true'],
    {
      env: {},
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 10_000,
      ...(jobUser ? { uid: jobUser.uid, gid: jobUser.gid } : {}),
    },
  );
  if (trial.status === 0) return { bwrap };
  const said = `${trial.stderr ?? ''}`.trim().split('\n')[0] ?? '';
  return {
    reason: `${bwrap} cannot make a sandbox here${said ? ` (${said})` : ''}: user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone=1)`,
  };
}
