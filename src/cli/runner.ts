import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import type { ArtifactStore } from '../artifacts/artifact-store.js';
import { parseS3Url, S3ArtifactStore } from '../artifacts/s3-artifact-store.js';
import { TesseraError } from '../errors.js';
import { RunnerAgent, TESSERA_INSTALL_ROOT } from '../runner/agent.js';
import { chooseExecutor, dockerChoice } from '../runner/executors/create-executor.js';
import { resolveJobUser } from '../runner/job-user.js';

interface RunnerFlags {
  url: string;
  token?: string;
  buildsDir: string;
  concurrency: string;
  shell: string;
  jobUser?: string;
  executor?: string;
  sandboxNetwork?: string;
  dockerCli?: string;
  dockerImage?: string;
  dockerNetwork?: string;
  dockerPullPolicy?: string;
  cacheDir?: string;
  cacheS3?: string;
}

/**
 * Registers `tessera runner --url URL --token TOKEN [--builds-dir DIR] [--cache-dir DIR] [--cache-s3 URL] [--concurrency N]
 * [--executor shell|sandbox|docker] [--sandbox-network host|none] [--docker-cli docker|podman]
 * [--docker-image IMAGE] [--docker-network NAME] [--docker-pull-policy POLICY] [--shell bash]
 * [--job-user USER]`: runs
 * jobs from a coordinator until SIGINT/SIGTERM (running jobs are killed and reported failed) or
 * SIGQUIT (running jobs are finished first). The token may also come from `TESSERA_RUNNER_TOKEN`,
 * which keeps it out of the process list. The executor defaults to `sandbox` where bubblewrap
 * works; a `shell` job runs as the runner's user (or `--job-user`) and can read what it can.
 */
export function registerRunnerCommand(program: Command): void {
  program
    .command('runner')
    .description('Run jobs from a Tessera coordinator')
    .requiredOption(
      '--url <url>',
      "the coordinator's base URL, without /api/v4 (what tessera serve prints as CI_SERVER_URL)",
    )
    .option(
      '--token <token>',
      'the runner token from POST /api/v4/user/runners (env: TESSERA_RUNNER_TOKEN, which keeps it out of ps)',
    )
    .addOption(
      new Option('--builds-dir <dir>', 'directory for build directories and the repository cache').default(
        './builds',
        './builds',
      ),
    )
    .addOption(new Option('--concurrency <n>', 'jobs run at once, 1 to 999').default('1', '1'))
    .addOption(
      new Option('--shell <shell>', 'the shell that runs job scripts; only bash').default('bash', 'bash'),
    )
    .option(
      '--cache-dir <dir>',
      'the runner-local cache of cache: entries (default: <builds-dir>/.job-cache)',
    )
    .option(
      '--cache-s3 <url>',
      'share the cache with other runners in s3://bucket[/prefix] (env: TESSERA_CACHE_S3_ENDPOINT, TESSERA_CACHE_S3_REGION, TESSERA_CACHE_S3_ACCESS_KEY_ID, TESSERA_CACHE_S3_SECRET_ACCESS_KEY)',
    )
    .option(
      '--executor <name>',
      'shell, sandbox or docker (env: TESSERA_RUNNER_EXECUTOR; default: sandbox where bubblewrap works, else shell)',
    )
    .option(
      '--sandbox-network <mode>',
      "sandbox jobs' network: host or none (env: TESSERA_RUNNER_SANDBOX_NETWORK; default: host)",
    )
    .option(
      '--job-user <user>',
      "run jobs as this unprivileged user; the runner must run as root (default: the runner's own user)",
    )
    .option(
      '--docker-cli <cli>',
      'docker executor: docker or podman (env: TESSERA_RUNNER_DOCKER_CLI; default: docker)',
    )
    .option(
      '--docker-image <image>',
      'docker executor: image of jobs that name none (env: TESSERA_RUNNER_DOCKER_IMAGE)',
    )
    .option(
      '--docker-network <name>',
      'docker executor: network every job joins instead of one of its own, e.g. host (env: TESSERA_RUNNER_DOCKER_NETWORK)',
    )
    .option(
      '--docker-pull-policy <policy>',
      'docker executor: always, if-not-present or never, or a comma list tried in order (env: TESSERA_RUNNER_DOCKER_PULL_POLICY; default: always)',
    )
    .action(async (flags: RunnerFlags) => {
      const token = flags.token ?? process.env.TESSERA_RUNNER_TOKEN;
      if (!token)
        throw new TesseraError('ERR_CONFIG_INVALID', '--token (or TESSERA_RUNNER_TOKEN) is required');
      // /proc/<pid>/cmdline (ps) is readable by every user, jobs included: overwrite the arguments,
      // and with them a --token, by the process title.
      process.title = 'tessera runner';
      if (!/^https?:\/\/[^/]/.test(flags.url)) {
        throw new TesseraError('ERR_CONFIG_INVALID', '--url must be an http(s) URL of the coordinator');
      }
      if (!/^\d{1,3}$/.test(flags.concurrency) || Number(flags.concurrency) < 1) {
        throw new TesseraError('ERR_CONFIG_INVALID', '--concurrency must be a whole number from 1 to 999');
      }
      if (flags.shell !== 'bash') {
        throw new TesseraError(
          'ERR_CONFIG_INVALID',
          '--shell must be bash (the only shell Tessera supports)',
        );
      }
      const jobUser = flags.jobUser === undefined ? undefined : resolveJobUser(flags.jobUser);
      const log = (message: string) =>
        process.stderr.write(`${new Date().toISOString()} runner: ${message}\n`);
      const { executor, fallbackReason } = chooseExecutor({
        name: flags.executor ?? process.env.TESSERA_RUNNER_EXECUTOR,
        sandboxNetwork: flags.sandboxNetwork ?? process.env.TESSERA_RUNNER_SANDBOX_NETWORK,
        installRoot: TESSERA_INSTALL_ROOT,
        ...dockerChoice(flags),
        ...(jobUser ? { jobUser } : {}),
      });
      if (fallbackReason !== undefined) {
        log(
          `WARNING: no sandbox (${fallbackReason}); jobs run with the shell executor and can read everything this runner can. Install bubblewrap or pass --executor shell to accept this.`,
        );
      }
      log(
        `executor: ${executor.name}${executor.detail ? ` (${executor.detail})` : ''}${
          executor.jobUser ? ` (jobs run as ${executor.jobUser.name})` : ''
        }`,
      );
      const agent = new RunnerAgent({
        url: flags.url,
        token,
        buildsDir: flags.buildsDir,
        concurrency: Number(flags.concurrency),
        ...(flags.cacheDir ? { cacheDir: flags.cacheDir } : {}),
        ...(flags.cacheS3
          ? { sharedCache: sharedCacheStore(flags.cacheS3, flags.buildsDir, process.env) }
          : {}),
        executor,
        log,
      });
      await agent.start();
      log(`polling ${flags.url} for jobs (concurrency ${flags.concurrency})`);
      const stopOn = (signal: NodeJS.Signals, mode: 'graceful' | 'abort') => {
        process.on(signal, () => {
          log(
            `${signal}: ${mode === 'abort' ? 'cancelling running jobs and stopping' : 'finishing running jobs, then stopping'}`,
          );
          void agent.stop(mode);
        });
      };
      stopOn('SIGINT', 'abort');
      stopOn('SIGTERM', 'abort');
      stopOn('SIGQUIT', 'graceful');
      await agent.done();
      log('stopped');
    });
}

/**
 * The shared cache of `--cache-s3 s3://bucket[/prefix]`: endpoint and region from
 * `TESSERA_CACHE_S3_ENDPOINT` (default AWS) and `TESSERA_CACHE_S3_REGION` (default `us-east-1`),
 * credentials from `TESSERA_CACHE_S3_ACCESS_KEY_ID`/`TESSERA_CACHE_S3_SECRET_ACCESS_KEY`, else
 * `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`; never from the command line (the process list).
 *
 * @throws TesseraError `ERR_CONFIG_INVALID` for a bad URL or missing credentials.
 */
export function sharedCacheStore(url: string, buildsDir: string, env: NodeJS.ProcessEnv): ArtifactStore {
  const location = parseS3Url(url);
  if (location === undefined)
    throw new TesseraError('ERR_CONFIG_INVALID', '--cache-s3 must be s3://bucket or s3://bucket/prefix');
  const accessKeyId = env.TESSERA_CACHE_S3_ACCESS_KEY_ID ?? env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.TESSERA_CACHE_S3_SECRET_ACCESS_KEY ?? env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey)
    throw new TesseraError(
      'ERR_CONFIG_INVALID',
      '--cache-s3 needs TESSERA_CACHE_S3_ACCESS_KEY_ID and TESSERA_CACHE_S3_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)',
    );
  const region = env.TESSERA_CACHE_S3_REGION || 'us-east-1';
  const sessionToken = env.TESSERA_CACHE_S3_SESSION_TOKEN ?? env.AWS_SESSION_TOKEN;
  return new S3ArtifactStore(
    {
      endpoint: env.TESSERA_CACHE_S3_ENDPOINT || `https://s3.${region}.amazonaws.com`,
      region,
      bucket: location.bucket,
      prefix: location.prefix,
      accessKeyId,
      secretAccessKey,
      ...(sessionToken ? { sessionToken } : {}),
    },
    join(resolve(buildsDir), '.cache-spool'),
  );
}
