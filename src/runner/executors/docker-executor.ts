import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { JobImage, JobPayload, JobService, PullPolicy } from '../job-payload.js';
import {
  ExecutorPreparationError,
  type ExecutorSession,
  type JobExecutor,
  type JobView,
  type JobWorkspace,
  type StepCommand,
} from './executor.js';
import { borrowedObjectDirectories } from './sandbox-executor.js';

/** The pull policies of `--docker-pull-policy` and `image:pull_policy`, GitLab's names. */
export const PULL_POLICIES: readonly PullPolicy[] = ['always', 'if-not-present', 'never'];

/** Where build directories are inside a container, as GitLab's docker executor. */
const CONTAINER_BUILDS_DIR = '/builds';

/** A Docker-compatible CLI found on the runner's host. */
export interface DockerCli {
  /** The command (`docker`, `podman` or a path). */
  readonly command: string;
  /** Which CLI it is: their flags differ in a few places (`rm -t`, ulimits). */
  readonly flavor: 'docker' | 'podman';
  /** Its version, for the job log's header. */
  readonly version: string;
  /** Whether `--init` works (podman needs catatonit on the host). */
  readonly init: boolean;
}

/** Options of {@link dockerExecutor}. */
export interface DockerExecutorOptions {
  readonly cli: DockerCli;
  /** `--docker-image`: the image of jobs that name none. */
  readonly defaultImage?: string;
  /** `--docker-network`: every job's containers join this network instead of one of their own. */
  readonly network?: string;
  /** `--docker-pull-policy`: tried in order when the image names none; default `always` (GitLab's). */
  readonly pullPolicy?: readonly PullPolicy[];
}

/**
 * Finds the Docker-compatible CLI `command` (`docker` or `podman`) and its version. Answers why
 * there is none when it cannot run.
 */
export function findDockerCli(command: string): DockerCli | { reason: string } {
  const probe = spawnSync(command, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error !== undefined || probe.status !== 0) {
    return { reason: `${command} cannot run here (${probe.error?.message ?? probe.stderr.trim()})` };
  }
  const text = probe.stdout.trim();
  const flavor = /podman/i.test(text) || /podman/.test(basename(command)) ? 'podman' : 'docker';
  const version = /version\s+([0-9][^\s,]*)/i.exec(text)?.[1] ?? 'unknown';
  const init =
    flavor === 'docker' ||
    ['/usr/libexec/podman/catatonit', '/usr/bin/catatonit', '/usr/local/libexec/podman/catatonit'].some(
      (path) => existsSync(path),
    );
  return { command, flavor, version, init };
}

/** Parses `--docker-pull-policy`: one policy or a comma-separated list tried in order. */
export function parsePullPolicies(text: string): PullPolicy[] | undefined {
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const policies = names.map((name) => PULL_POLICIES.find((policy) => policy === name));
  if (policies.length === 0 || policies.some((policy) => policy === undefined)) return undefined;
  return policies as PullPolicy[];
}

/** The label value that marks every container and network of the runner whose builds are in `buildsDir`. */
export function runnerLabel(buildsDir: string): string {
  return createHash('sha256').update(resolve(buildsDir)).digest('hex').slice(0, 16);
}

/** `CI_PROJECT_PATH` (namespace/project) made safe to be a path inside the container. */
function projectPathOf(job: JobPayload): string {
  const declared = job.variables.findLast((v) => v.key === 'CI_PROJECT_PATH')?.value;
  const segments = (declared ?? job.job_info?.project_name ?? 'project')
    .split('/')
    .map((segment) => segment.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, ''))
    .filter((segment) => segment !== '');
  return segments.length === 0 ? 'project' : segments.join('/');
}

/** Where a job's files are inside its containers: GitLab's `/builds/<namespace>/<project>`. */
export function containerJobView(job: JobPayload): JobView {
  const projectDir = `${CONTAINER_BUILDS_DIR}/${projectPathOf(job)}`;
  return {
    buildsDir: CONTAINER_BUILDS_DIR,
    projectDir,
    jobTempDir: `${projectDir}.tmp`,
    imageEnvironment: true,
  };
}

/**
 * The host names of a service: its `alias` (several separated by commas or spaces) and those GitLab
 * derives from the image name without its tag (`tutum/wordpress` is `tutum-wordpress` and
 * `tutum__wordpress`).
 */
export function serviceAliases(service: JobService): string[] {
  const withoutTag = service.name.replace(/@.*$/, '').replace(/:[^/]*$/, '');
  const aliases = [
    ...(service.alias ?? '').split(/[\s,]+/),
    withoutTag.replaceAll('/', '-'),
    withoutTag.replaceAll('/', '__'),
  ];
  return [...new Set(aliases.filter((alias) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(alias)))];
}

/**
 * Names a variable may not be handed to the CLI under in its own environment, because they steer
 * the CLI itself (its daemon, storage, configuration, helpers): such variables reach the
 * container through an env-file instead.
 */
function steersCli(name: string): boolean {
  return (
    /^(DOCKER|CONTAINERS?|PODMAN|BUILDAH|STORAGE|REGISTRY|XDG|LD|NOTIFY|GO|SSL|TMP)/i.test(name) ||
    /^(https?|no|all|ftp)_proxy$/i.test(name) ||
    ['PATH', 'HOME', 'TMPDIR', 'SHELL', 'USER', 'LOGNAME', 'TZ'].includes(name)
  );
}

/** What the CLI needs of the runner's own environment to reach its daemon or storage. */
function cliBaseEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && steersCli(name)) env[name] = value;
  }
  env.PATH ??= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  return env;
}

/**
 * How a set of variables reaches a container without showing on any command line: ordinary names
 * in the CLI's own environment with `-e NAME` (no value), names that would steer the CLI in an
 * env-file (mode 0600) at `envFile`. A multi-line value cannot be in an env-file; such a variable
 * is left out and named in `skipped`.
 */
function passVariables(
  variables: Readonly<Record<string, string>>,
  envFile: string,
): { args: string[]; env: Record<string, string>; skipped: string[] } {
  const env = cliBaseEnvironment();
  const args: string[] = [];
  const fileLines: string[] = [];
  const skipped: string[] = [];
  for (const [name, value] of Object.entries(variables)) {
    if (!steersCli(name)) {
      env[name] = value;
      args.push('-e', name);
    } else if (/[\r\n]/.test(value)) skipped.push(name);
    else fileLines.push(`${name}=${value}`);
  }
  if (fileLines.length > 0) {
    writeFileSync(envFile, `${fileLines.join('\n')}\n`, { mode: 0o600 });
    args.push('--env-file', envFile);
  }
  return { args, env, skipped };
}

/** The hard limits of the runner's own process (podman's defaults may exceed them in a container). */
function hardLimits(): { nofile?: number; nproc?: number } {
  try {
    const text = readFileSync('/proc/self/limits', 'utf8');
    const hard = (label: string) => {
      const value = new RegExp(`^${label}\\s+\\S+\\s+(\\S+)`, 'm').exec(text)?.[1];
      return value === undefined || value === 'unlimited' ? undefined : Number(value);
    };
    return { nofile: hard('Max open files'), nproc: hard('Max processes') };
  } catch {
    return {};
  }
}

/** Runs the CLI to the end; answers its exit code and output (stdout, stderr). */
function runCli(
  cli: DockerCli,
  args: readonly string[],
  options: { signal?: AbortSignal; onOutput?: (chunk: Buffer) => void; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(cli.command, [...args], {
      env: options.env ?? cliBaseEnvironment(),
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => {
      out.push(chunk);
      options.onOutput?.(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err.push(chunk);
      options.onOutput?.(chunk);
    });
    child.on('error', (error) =>
      resolvePromise({ code: -1, stdout: '', stderr: error.message.slice(0, 2000) }),
    );
    child.on('close', (code) =>
      resolvePromise({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      }),
    );
  });
}

/** Removes containers (by name or id) now, without waiting for them to stop. */
function removeContainersNow(cli: DockerCli, names: readonly string[]): Promise<unknown> {
  if (names.length === 0) return Promise.resolve();
  const args =
    cli.flavor === 'podman' ? ['rm', '-f', '-t', '0', '--ignore', ...names] : ['rm', '-f', ...names];
  return runCli(cli, args);
}

/** The last meaningful line of a CLI's error output, for a one-line message. */
function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  return (lines.at(-1) ?? 'no output').slice(0, 500);
}

/** The first shell the image has, as GitLab's docker executor looks for it: bash, else sh. */
const SHELL_DETECTION = [
  'for shell in /usr/local/bin/bash /usr/bin/bash /bin/bash; do',
  '  if [ -x "$shell" ]; then exec "$shell" --noprofile --norc "$0"; fi',
  'done',
  'exec sh "$0"',
].join('\n');

/**
 * The `docker` executor: every step of a job in a container of the job's image, started with a
 * Docker-compatible CLI (docker or podman); the job's services in containers beside it on a network
 * of the job's own. See `docs/runner.md` for what it isolates and what not.
 */
export function dockerExecutor(options: DockerExecutorOptions): JobExecutor {
  const { cli } = options;
  const runnerPullPolicy = options.pullPolicy ?? ['always'];
  // Images found present or pulled by this runner process, so that `if-not-present` costs no call.
  const presentImages = new Set<string>();
  const limits = hardLimits();
  const podmanLimits =
    cli.flavor === 'podman'
      ? [
          ...(limits.nofile ? ['--ulimit', `nofile=${limits.nofile}:${limits.nofile}`] : []),
          '--ulimit',
          `nproc=${Math.min(limits.nproc ?? 32768, 32768)}:${Math.min(limits.nproc ?? 32768, 32768)}`,
        ]
      : [];
  const imageOf = (job: JobPayload): string | undefined => job.image?.name || options.defaultImage;

  const ensureImage = async (
    image: JobImage,
    log: (text: string) => void,
    signal: AbortSignal | undefined,
  ): Promise<PullPolicy> => {
    const policies = image.pull_policy?.length ? image.pull_policy : runnerPullPolicy;
    const failures: string[] = [];
    for (const policy of policies) {
      if (policy !== 'always' && presentImages.has(image.name)) return policy;
      if (policy !== 'always') {
        const found = await runCli(cli, ['image', 'inspect', '--format', '{{.Id}}', image.name], {
          ...(signal ? { signal } : {}),
        });
        if (found.code === 0) {
          presentImages.add(image.name);
          return policy;
        }
        if (policy === 'never') {
          failures.push(`image is not present and pull_policy is never`);
          continue;
        }
      }
      log(`Pulling docker image ${image.name} ...`);
      let pending = '';
      const pulled = await runCli(cli, ['pull', image.name], {
        ...(signal ? { signal } : {}),
        onOutput: (chunk) => {
          pending += chunk.toString();
          const lines = pending.split('\n');
          pending = lines.pop() ?? '';
          for (const text of lines) if (text.trim() !== '') log(text.trimEnd());
        },
      });
      if (pending.trim() !== '') log(pending.trimEnd());
      if (pulled.code === 0) {
        presentImages.add(image.name);
        return policy;
      }
      failures.push(lastLine(pulled.stderr));
    }
    throw new ExecutorPreparationError(
      'image_pull_failure',
      `failed to pull image "${image.name}" with specified policies [${policies.join(' ')}]: ${failures.join('; ')}`,
    );
  };

  return {
    name: 'docker',
    detail: `${cli.flavor} ${cli.version}`,
    checksOutOnHost: true,
    jobView: ({ job }) => containerJobView(job),
    describe: (job: JobPayload) => [
      `Using ${cli.flavor} ${cli.version} with image ${imageOf(job) ?? '(none)'} ...`,
    ],
    removeLeftovers: async (buildsDir: string) => {
      const label = `label=tessera.runner=${runnerLabel(buildsDir)}`;
      const containers = await runCli(cli, ['ps', '-aq', '--filter', label]);
      const ids = containers.code === 0 ? containers.stdout.split('\n').filter((id) => id.trim() !== '') : [];
      await removeContainersNow(cli, ids);
      const networks = await runCli(cli, ['network', 'ls', '-q', '--filter', label]);
      const networkIds =
        networks.code === 0 ? networks.stdout.split('\n').filter((id) => id.trim() !== '') : [];
      if (networkIds.length > 0) await runCli(cli, ['network', 'rm', ...networkIds]);
      return ids.length + networkIds.length;
    },
    open: async (workspace: JobWorkspace): Promise<ExecutorSession> => {
      const { job } = workspace;
      const log = workspace.log ?? (() => undefined);
      const name = imageOf(job);
      if (name === undefined) {
        throw new ExecutorPreparationError(
          'runner_system_failure',
          'the job names no image: and the runner has no default image (--docker-image)',
        );
      }
      const image: JobImage = { ...(job.image ?? {}), name };
      const session = `tessera-job-${job.id}-${randomBytes(4).toString('hex')}`;
      const labels = [
        '--label',
        `tessera.job.id=${job.id}`,
        '--label',
        `tessera.runner=${runnerLabel(workspace.buildsDir)}`,
        '--label',
        `tessera.session=${session}`,
      ];
      const view = containerJobView(job);
      const inJob = (path: string) =>
        path.startsWith(`${workspace.jobTempDir}/`)
          ? `${view.jobTempDir}${path.slice(workspace.jobTempDir.length)}`
          : path;
      const containers: string[] = [];
      const envFiles: string[] = [];
      let network = options.network;
      let ownNetwork = false;
      const addHosts: string[] = [];
      const close = async () => {
        for (const file of envFiles) rmSync(file, { force: true });
        await removeContainersNow(cli, containers).catch(() => undefined);
        if (ownNetwork && network !== undefined) {
          await runCli(cli, ['network', 'rm', network]).catch(() => undefined);
        }
      };

      try {
        const policy = await ensureImage(image, log, workspace.signal);
        const services = job.services ?? [];
        for (const service of services) await ensureImage(service, log, workspace.signal);
        if (services.length > 0 && network === undefined) {
          const created = await runCli(cli, ['network', 'create', ...labels, session]);
          if (created.code !== 0) {
            throw new ExecutorPreparationError(
              'runner_system_failure',
              `cannot create the job's network: ${lastLine(created.stderr)}`,
            );
          }
          network = session;
          ownNetwork = true;
        }
        const serviceVariables = Object.fromEntries(
          job.variables.filter((v) => !v.masked && !v.file).map((v) => [v.key, v.value]),
        );
        for (const [index, service] of services.entries()) {
          const container = `${session}-service-${index}`;
          const aliases = serviceAliases(service);
          const variables: Record<string, string> = { ...serviceVariables };
          for (const variable of service.variables ?? []) variables[variable.key] = variable.value;
          const envFile = join(workspace.jobTempDir, `service-${index}.env`);
          envFiles.push(envFile);
          const passed = passVariables(variables, envFile);
          containers.push(container);
          const started = await runCli(
            cli,
            [
              'run',
              '-d',
              '--name',
              container,
              ...labels,
              ...(network ? ['--network', network] : []),
              // The host's network (or none) has no aliases: the host entries below still name the service.
              ...(network === 'host' || network === 'none'
                ? []
                : aliases.flatMap((alias) => ['--network-alias', alias])),
              ...podmanLimits,
              ...passed.args,
              ...entrypointArgs(service.entrypoint).options,
              '--pull',
              'never',
              service.name,
              ...entrypointArgs(service.entrypoint).words,
              ...(service.command ?? []),
            ],
            { env: passed.env },
          );
          if (started.code !== 0) {
            throw new ExecutorPreparationError(
              'runner_system_failure',
              `cannot start service ${service.name}: ${lastLine(started.stderr)}`,
            );
          }
          // A host entry for each alias works whether or not the network resolves names.
          const address = await runCli(cli, [
            'inspect',
            '--format',
            '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}',
            container,
          ]);
          const ip = address.stdout.trim().split(/\s+/)[0] || '127.0.0.1';
          for (const alias of aliases) addHosts.push('--add-host', `${alias}:${ip}`);
          log(`Service ${service.name} is reachable as ${aliases.join(', ')}`);
        }

        const mounts = [
          '-v',
          `${workspace.projectDir}:${view.projectDir}`,
          '-v',
          `${workspace.jobTempDir}:${view.jobTempDir}`,
          ...borrowedObjectDirectories(workspace.projectDir).flatMap((path) => ['-v', `${path}:${path}:ro`]),
        ];
        const user = job.image?.executor_opts?.docker?.user;
        const pull = policy === 'always' ? 'never' : policy === 'never' ? 'never' : 'missing';
        let steps = 0;
        return {
          step: (scriptFile, env): StepCommand => {
            steps += 1;
            const container = `${session}-${basename(scriptFile, '.sh').replace(/[^a-z0-9]+/gi, '-')}-${steps}`;
            const envFile = join(workspace.jobTempDir, `step-${steps}.env`);
            envFiles.push(envFile);
            const passed = passVariables(env, envFile);
            for (const skipped of passed.skipped) {
              log(
                `WARNING: variable ${skipped} has several lines and its name is kept from the container CLI: not passed`,
              );
            }
            return {
              command: cli.command,
              args: [
                'run',
                '--rm',
                '--name',
                container,
                ...labels,
                ...(network ? ['--network', network] : []),
                ...addHosts,
                ...mounts,
                '-w',
                view.projectDir,
                ...(cli.init ? ['--init'] : []),
                ...podmanLimits,
                ...(user ? ['--user', String(user)] : []),
                ...passed.args,
                ...entrypointArgs(image.entrypoint).options,
                '--pull',
                pull,
                image.name,
                ...entrypointArgs(image.entrypoint).words,
                'sh',
                '-c',
                SHELL_DETECTION,
                inJob(scriptFile),
              ],
              env: passed.env,
              cwd: workspace.jobRoot,
              // `--rm` removes a container whose step ends by itself; one whose CLI client is
              // killed keeps running, so it is removed now and once more when the job closes.
              onTerminate: () => {
                containers.push(container);
                void removeContainersNow(cli, [container]);
              },
            };
          },
          close,
        };
      } catch (error) {
        await close();
        throw error;
      }
    },
  };
}

/**
 * An `entrypoint:` list as both CLIs take it: its first word as `--entrypoint` (`[""]` clears the
 * image's), the others in front of the command.
 */
function entrypointArgs(entrypoint: readonly string[] | null | undefined): {
  options: string[];
  words: string[];
} {
  if (entrypoint === undefined || entrypoint === null) return { options: [], words: [] };
  const [first = '', ...rest] = entrypoint.filter((word) => word !== '');
  return { options: ['--entrypoint', first], words: rest };
}
