import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type Command, Option } from 'commander';
import { loadConfig } from '../config/load.js';
import { createRemoteIncludeFetcher } from '../coordinator/fetch-remote-include.js';
import { fileClausesOf } from '../coordinator/plan-files.js';
import { isTesseraError } from '../errors.js';
import type { ConfigProblem } from '../pipeline/config-problem.js';
import type { FetchRemoteFile } from '../pipeline/include-remote.js';
import { IncludeSourceError } from '../pipeline/include-sources.js';
import { loadPipeline } from '../pipeline/load.js';
import { type PipelinePlan, planPipelineReading } from '../pipeline/plan.js';
import {
  createDirectoryLister,
  createDirectoryReader,
  readConfigFile,
} from '../pipeline/read-directory-file.js';
import { buildRuleVariables, PIPELINE_SOURCES, type PipelineSource } from '../pipeline/rule-variables.js';
import { setOwn } from '../pipeline/set-own.js';

const execFileAsync = promisify(execFile);

interface LintOptions {
  dir?: string;
  ref?: string;
  tag?: boolean;
  source: string;
  var: string[];
  json?: boolean;
  server?: string;
  project?: string;
}

/** What `--json` prints. */
interface LintReport {
  valid: boolean;
  errors: ConfigProblem[];
  warnings: ConfigProblem[];
  jobs: { name: string; stage: string; when: string; allow_failure: boolean; needs: string[] | null }[];
  created: boolean;
  ref: string;
  tag: boolean;
  source: string;
}

/**
 * Registers `tessera ci lint [FILE]`: loads a `.gitlab-ci.yml` (with `include:local` from `--dir`)
 * and shows every error as `path: message (line N)`, or the jobs a pipeline would get for a ref and
 * source. Exit 0 valid, 1 invalid, 2 usage error.
 */
export function registerCiLintCommand(program: Command): void {
  const ci =
    program.commands.find((command) => command.name() === 'ci') ??
    program.command('ci').description('Pipeline configuration tools');
  ci.command('lint')
    .description('Check a .gitlab-ci.yml and list the jobs a pipeline would get')
    .argument('[file]', 'configuration file (default: .gitlab-ci.yml in --dir)')
    .option(
      '--dir <repo>',
      'repository root, for include:local and the default ref (default: the current directory)',
    )
    .option('--ref <ref>', 'branch or tag name (default: the current branch of --dir, else main)')
    .option('--tag', 'the ref is a tag')
    .addOption(
      new Option('--source <source>', `pipeline source (${PIPELINE_SOURCES.join(', ')})`).default(
        'push',
        'push',
      ),
    )
    .addOption(
      new Option('--var <key=value>', 'a variable visible to rules; repeatable')
        .argParser(collect)
        .default([], 'none'),
    )
    .option('--json', 'print one JSON object')
    .option(
      '--server <url>',
      "lint with a Tessera server's lint API, so includes resolve in the project's repository (token: TESSERA_TOKEN)",
    )
    .option('--project <path>', 'the project on --server (group/project or its id)')
    .action(async (file: string | undefined, options: LintOptions, command: Command) => {
      const source = PIPELINE_SOURCES.find((candidate) => candidate === options.source);
      if (source === undefined) {
        command.error(`error: --source must be one of ${PIPELINE_SOURCES.join(', ')}`, { exitCode: 2 });
        return;
      }
      const extra: Record<string, string> = {};
      for (const pair of options.var) {
        const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(pair);
        if (match === null) {
          command.error(`error: --var must be KEY=VALUE, not "${pair}"`, { exitCode: 2 });
          return;
        }
        setOwn(extra, match[1]!, match[2]!);
      }
      if (options.server !== undefined || options.project !== undefined) {
        if (options.server === undefined || options.project === undefined) {
          command.error('error: --server and --project go together', { exitCode: 2 });
          return;
        }
        process.exitCode = await lintOnServer(file, options, options.server, options.project);
        return;
      }
      const report = await lint(file, options, source, extra);
      process.stdout.write(
        options.json === true ? `${JSON.stringify(report, null, 2)}\n` : renderText(report, file),
      );
      process.exitCode = report.valid ? 0 : 1;
    });
}

/**
 * `include:remote` for a lint of the working copy, fetched as `tessera serve` fetches it and with
 * the same settings from the environment (`TESSERA_INCLUDE_REMOTE_HOSTS`, `…_ALLOW_HTTP`,
 * `…_TIMEOUT`, `…_CA_FILE`): a file the server would refuse is refused here too. The settings are
 * read at the first remote include, so a lint without one never depends on them.
 */
function remoteIncludeFetcher(): FetchRemoteFile {
  let fetcher: FetchRemoteFile | undefined;
  return (url) => {
    fetcher ??= createRemoteIncludeFetcher(loadConfig({}, process.env));
    return fetcher(url);
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function lint(
  fileArgument: string | undefined,
  options: LintOptions,
  source: PipelineSource,
  extra: Record<string, string>,
): Promise<LintReport> {
  const file = await locateFile(fileArgument, options.dir);
  const dir = resolve(
    options.dir ?? (fileArgument === undefined ? '.' : ((await gitTopLevel(dirname(file))) ?? dirname(file))),
  );
  const ref = options.ref ?? (await currentBranch(dir)) ?? 'main';
  const tag = options.tag === true;
  const base = { created: false, ref, tag, source, warnings: [] as ConfigProblem[], jobs: [] };
  const displayName = fileArgument ?? '.gitlab-ci.yml';
  const content = await readConfigFile(file);
  if (content === undefined) {
    return {
      ...base,
      valid: false,
      errors: [{ path: displayName, message: `cannot read ${file}`, line: null }],
    };
  }
  let plan: PipelinePlan;
  let warnings: ConfigProblem[];
  try {
    const loaded = await loadPipeline({
      content,
      file: basename(displayName),
      readLocalFile: createDirectoryReader(dir),
      listLocalFiles: createDirectoryLister(dir),
      fetchRemoteFile: remoteIncludeFetcher(),
    });
    warnings = loaded.warnings;
    const variables = {
      ...buildRuleVariables({
        ref,
        tag,
        source,
        defaultBranch: await defaultBranch(dir),
        projectPath: await projectPath(dir),
      }),
      ...extra,
    };
    // rules:exists looks at the directory's files; changes has no base here, so it is true (GitLab's lint).
    const repositoryPaths = fileClausesOf(loaded.spec).exists ? await createDirectoryLister(dir)() : null;
    // A working copy has no other projects: each rules:exists:project reached says so where it is.
    plan = await planPipelineReading(
      loaded.spec,
      variables,
      { changedPaths: new Map(), repositoryPaths },
      async () => {
        throw new IncludeSourceError(
          'tessera ci lint of a working copy reads no other project; lint with a server (tessera ci lint --server URL --project PATH)',
        );
      },
    );
  } catch (error) {
    if (isTesseraError(error) && error.code === 'ERR_PIPELINE_INVALID') {
      const details = error.details ?? {};
      return {
        ...base,
        valid: false,
        errors: (details.errors as ConfigProblem[] | undefined) ?? [],
        warnings: (details.warnings as ConfigProblem[] | undefined) ?? [],
      };
    }
    throw error;
  }
  return {
    ...base,
    valid: true,
    errors: [],
    warnings,
    created: plan.created,
    jobs: plan.jobs.map((job) => ({
      name: job.name,
      stage: job.stage,
      when: job.when,
      allow_failure: job.allowFailure,
      needs: job.needs === null ? null : [...job.needs],
    })),
  };
}

function renderText(report: LintReport, file: string | undefined): string {
  const name = file ?? '.gitlab-ci.yml';
  const line = (problem: ConfigProblem): string =>
    `${problem.path}: ${problem.message}${problem.line === null ? '' : ` (line ${problem.line})`}`;
  const out: string[] = [];
  if (!report.valid) {
    for (const problem of report.errors) out.push(line(problem));
    for (const problem of report.warnings) out.push(`warning: ${line(problem)}`);
    out.push(`${name} is invalid: ${report.errors.length} error${report.errors.length === 1 ? '' : 's'}`);
    return `${out.join('\n')}\n`;
  }
  out.push(`${name} is valid`);
  for (const problem of report.warnings) out.push(`warning: ${line(problem)}`);
  const what = `${report.tag ? 'tag' : 'branch'} ${report.ref} (source ${report.source})`;
  if (!report.created) {
    out.push(`No pipeline for ${what}: workflow:rules leave it out`);
    return `${out.join('\n')}\n`;
  }
  out.push(`Pipeline for ${what}: ${report.jobs.length} job${report.jobs.length === 1 ? '' : 's'}`);
  const stageWidth = Math.max(5, ...report.jobs.map((job) => job.stage.length));
  const nameWidth = Math.max(3, ...report.jobs.map((job) => job.name.length));
  for (const job of report.jobs) {
    const extras = [
      job.allow_failure ? 'allow failure' : '',
      job.needs === null ? '' : `needs: ${job.needs.length === 0 ? '(none)' : job.needs.join(', ')}`,
    ].filter((text) => text !== '');
    out.push(
      `  ${job.stage.padEnd(stageWidth)}  ${job.name.padEnd(nameWidth)}  ${job.when}${extras.length > 0 ? `  ${extras.join('  ')}` : ''}`.trimEnd(),
    );
  }
  return `${out.join('\n')}\n`;
}

// FILE is relative to the current directory; when it is not there but is inside --dir, use that.
async function locateFile(fileArgument: string | undefined, dir: string | undefined): Promise<string> {
  if (fileArgument === undefined) return resolve(dir ?? '.', '.gitlab-ci.yml');
  const direct = resolve(fileArgument);
  if (dir === undefined || isAbsolute(fileArgument)) return direct;
  const exists = await stat(direct).then(
    () => true,
    () => false,
  );
  return exists ? direct : resolve(dir, fileArgument);
}

async function git(dir: string, args: readonly string[]): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('git', ['-C', dir, ...args], { timeout: 5000 });
    const text = stdout.trim();
    return text === '' ? undefined : text;
  } catch {
    return undefined;
  }
}

async function gitTopLevel(dir: string): Promise<string | undefined> {
  return git(dir, ['rev-parse', '--show-toplevel']);
}

async function currentBranch(dir: string): Promise<string | undefined> {
  return git(dir, ['symbolic-ref', '--short', '-q', 'HEAD']);
}

async function defaultBranch(dir: string): Promise<string> {
  const remote = await git(dir, ['symbolic-ref', '--short', '-q', 'refs/remotes/origin/HEAD']);
  if (remote !== undefined) return remote.replace(/^origin\//, '');
  if ((await git(dir, ['rev-parse', '--verify', '-q', 'refs/heads/main'])) !== undefined) return 'main';
  if ((await git(dir, ['rev-parse', '--verify', '-q', 'refs/heads/master'])) !== undefined) return 'master';
  return 'main';
}

async function projectPath(dir: string): Promise<string> {
  const url = await git(dir, ['remote', 'get-url', 'origin']);
  const match =
    url === undefined
      ? null
      : /[:/]([^:/]+(?:\/[^/]+)*?\/[^/]+?)(?:\.git)?\/?$/.exec(url.replace(/^[a-z+]+:\/\/[^/]+\//, '/'));
  return match?.[1] ?? `local/${basename(dir)}`;
}

/** GitLab's lint answer, as `POST /projects/:id/ci/lint` gives it. */
interface ServerLint {
  valid: boolean;
  errors: string[];
  warnings: string[];
  jobs?: { name: string; stage: string; when: string }[];
}

/**
 * `--server URL --project PATH`: sends the file to the server's lint API (`dry_run` for `--ref`,
 * `include_jobs`) with the token in `TESSERA_TOKEN`, so includes resolve in the project's
 * repository, and prints the answer (as it came with `--json`). Answers the exit status.
 */
async function lintOnServer(
  fileArgument: string | undefined,
  options: LintOptions,
  server: string,
  project: string,
): Promise<number> {
  const file = await locateFile(fileArgument, options.dir);
  const content = await readConfigFile(file);
  if (content === undefined) {
    process.stderr.write(`error: cannot read ${file}\n`);
    return 1;
  }
  const token = process.env.TESSERA_TOKEN;
  if (token === undefined || token === '') {
    process.stderr.write(
      'error: set TESSERA_TOKEN to an access token of the server (Reporter role or higher)\n',
    );
    return 2;
  }
  const url = `${server.replace(/\/+$/, '')}/api/v4/projects/${encodeURIComponent(project)}/ci/lint`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'private-token': token, 'content-type': 'application/json' },
      body: JSON.stringify({
        content,
        dry_run: true,
        include_jobs: true,
        ...(options.ref === undefined ? {} : { ref: options.ref }),
      }),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (error) {
    process.stderr.write(`error: ${url}: ${error instanceof Error ? error.message : 'no answer'}\n`);
    return 1;
  }
  const text = await response.text();
  if (!response.ok) {
    process.stderr.write(`error: ${url} answered ${response.status}: ${text.slice(0, 1000)}\n`);
    return 1;
  }
  const answer = JSON.parse(text) as ServerLint;
  if (options.json === true) {
    process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
    return answer.valid ? 0 : 1;
  }
  const name = fileArgument ?? '.gitlab-ci.yml';
  const out = [...answer.errors, ...answer.warnings.map((warning) => `warning: ${warning}`)];
  out.push(
    answer.valid
      ? `${name} is valid (checked by ${server} in ${project})`
      : `${name} is invalid: ${answer.errors.length} error${answer.errors.length === 1 ? '' : 's'}`,
  );
  for (const job of answer.jobs ?? []) out.push(`  ${job.stage}  ${job.name}  ${job.when}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return answer.valid ? 0 : 1;
}
