import { rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { TesseraError } from '../errors.js';
import { decideStyle, RunOutput } from '../local-run/run-output.js';
import { TESSERA_INSTALL_ROOT } from '../runner/agent.js';
import { type ChosenExecutor, chooseExecutor } from '../runner/executors/create-executor.js';

interface RunFlags {
  ref?: string;
  var?: string[];
  job?: string[];
  concurrency?: string;
  executor?: string;
  artifactsDir?: string;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * `--var KEY=VALUE` values as pipeline variables; a key repeated keeps its last value.
 *
 * @throws TesseraError `ERR_LOCAL_RUN_VARIABLE_INVALID` for a value without `=` or a key that is
 * not letters, digits and underscores.
 */
export function parseRunVariables(values: readonly string[]): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const item of values) {
    const at = item.indexOf('=');
    const key = at < 0 ? item : item.slice(0, at);
    if (at < 0 || !/^[A-Za-z0-9_]{1,255}$/.test(key)) {
      throw new TesseraError(
        'ERR_LOCAL_RUN_VARIABLE_INVALID',
        `--var "${key.slice(0, 60)}${at < 0 ? '' : '=…'}" must be KEY=VALUE with a key of letters, digits and underscores`,
      );
    }
    variables[key] = item.slice(at + 1);
  }
  return variables;
}

/**
 * Registers `tessera run [DIR] [--ref REF] [--var KEY=VALUE]... [--job NAME]... [--concurrency N]`:
 * runs the pipeline of a git working copy on an embedded coordinator and runner (docs/local-run.md).
 * Exit status 0 when the pipeline succeeds, 1 when it fails or is interrupted, 2 when it cannot start.
 */
export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description(
      "Run a git working copy's pipeline locally: embedded coordinator and runner, real ID tokens, live discovery",
    )
    .argument('[dir]', 'the git working copy, or a directory inside it (default: the current directory)')
    .option('--ref <ref>', 'branch or tag to run (default: the branch checked out at HEAD)')
    .option('--var <key=value>', 'pipeline variable (repeatable)', collect)
    .option('--job <name>', 'run only this job and what it needs (repeatable)', collect)
    .option('--concurrency <n>', 'jobs run at once (default: CPU count, at least 8)')
    .option(
      '--artifacts-dir <dir>',
      "where the jobs' artifacts are left, one folder per job (default: a new temporary folder)",
    )
    .option(
      '--executor <name>',
      'sandbox or shell (env TESSERA_RUNNER_EXECUTOR; default: sandbox where bubblewrap works, else shell)',
    )
    .action(async (dir: string | undefined, flags: RunFlags) => {
      const diagnostic = (line: string) => process.stderr.write(`${line}\n`);
      let variables: Record<string, string>;
      // At least 8: a stage's jobs are mostly short shell scripts that wait on I/O, and a stage run in
      // two waves takes twice as long.
      let concurrency = Math.max(8, availableParallelism());
      let chosen: ChosenExecutor;
      try {
        chosen = chooseExecutor({
          name: flags.executor ?? process.env.TESSERA_RUNNER_EXECUTOR,
          installRoot: TESSERA_INSTALL_ROOT,
        });
        variables = parseRunVariables(flags.var ?? []);
        if (flags.concurrency !== undefined) {
          if (!/^\d{1,3}$/.test(flags.concurrency) || Number(flags.concurrency) < 1) {
            throw new TesseraError(
              'ERR_CONFIG_INVALID',
              '--concurrency must be a whole number from 1 to 999',
            );
          }
          concurrency = Number(flags.concurrency);
        }
      } catch (error) {
        if (!(error instanceof TesseraError)) throw error;
        diagnostic(`${error.code}: ${error.message}`);
        process.exitCode = 2;
        return;
      }
      if (chosen.fallbackReason !== undefined) {
        diagnostic(`warning: jobs are not sandboxed (${chosen.fallbackReason}); they run as you`);
      }
      const { runLocalPipeline } = await import('../local-run/run-local-pipeline.js');
      const output = new RunOutput({ stream: process.stdout, fancy: decideStyle(process.stdout) });
      const interrupt = new AbortController();
      const tempDirs: string[] = [];
      const onSignal = (signal: NodeJS.Signals) => {
        if (interrupt.signal.aborted) {
          // A second Ctrl-C: leave now, removing what can be removed synchronously.
          for (const path of tempDirs) rmSync(path, { recursive: true, force: true });
          process.exit(130);
        }
        diagnostic(`${signal}: stopping the running jobs and cleaning up (again to quit at once)`);
        interrupt.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      // A reader that goes away (`tessera run | head`) makes every later write fail with EPIPE:
      // stop the jobs and clean up as on Ctrl-C instead of dying with the temp dir left behind.
      // The listener stays until exit, since the summary may still be written to the closed pipe.
      process.stdout.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EPIPE') throw error;
        if (!interrupt.signal.aborted) interrupt.abort();
      });
      try {
        const code = await runLocalPipeline({
          dir: dir ?? '.',
          ...(flags.ref === undefined ? {} : { ref: flags.ref }),
          variables,
          jobs: flags.job ?? [],
          concurrency,
          executor: chosen.executor,
          output,
          diagnostic,
          signal: interrupt.signal,
          onTempDir: (path) => tempDirs.push(path),
          ...(flags.artifactsDir === undefined ? {} : { artifactsDir: flags.artifactsDir }),
        });
        process.exitCode = interrupt.signal.aborted ? 130 : code;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
