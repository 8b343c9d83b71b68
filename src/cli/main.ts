import { Command, CommanderError } from 'commander';
import { isTesseraError } from '../errors.js';

/** Registers one top-level command on the program. */
type RegisterCommand = (program: Command) => unknown;

/** `tessera version`: the line `--version` prints, for those who type it as a command. */
function registerVersionCommand(program: Command): void {
  program
    .command('version')
    .description('Print the version of Tessera (as --version does)')
    .action(() => {
      process.stdout.write(`${program.version()}\n`);
    });
}

/**
 * Every top-level command, loaded on demand: a job that calls `tessera id-token` should not pay
 * for importing the coordinator, the store drivers and Fastify. The order is the order of `--help`.
 */
const COMMANDS: ReadonlyArray<readonly [name: string, load: () => Promise<RegisterCommand>]> = [
  ['ci', async () => (await import('./ci-lint.js')).registerCiLintCommand],
  ['serve', async () => (await import('./serve.js')).registerServeCommand],
  ['keys', async () => (await import('./keys.js')).registerKeysCommand],
  ['oidc', async () => (await import('./oidc-export.js')).registerOidcCommand],
  ['runner', async () => (await import('./runner.js')).registerRunnerCommand],
  ['run', async () => (await import('./run.js')).registerRunCommand],
  ['id-token', async () => (await import('./id-token.js')).registerIdTokenCommand],
  ['token', async () => (await import('./token.js')).registerTokenCommand],
  ['version', async () => registerVersionCommand],
];

/** Flags that print the version, answered by commander before any command is looked at. */
const VERSION_FLAGS: ReadonlySet<string> = new Set(['--version', '-V']);

/**
 * The commands worth importing for `first`, the first argument: none for `--version`, only the
 * named one, and for anything else (no command, `--help`, a typo) all of them, so commander can
 * list them and suggest the right one.
 */
function commandsToLoad(first: string | undefined): typeof COMMANDS {
  if (first !== undefined && VERSION_FLAGS.has(first)) return [];
  const named = COMMANDS.filter(([name]) => name === first);
  return named.length > 0 ? named : COMMANDS;
}

/**
 * The `tessera` command line. Each command lives in its own file under `src/cli/` and exports a
 * `register…Command(program)` function; this file only wires them and turns failures into exit
 * codes: 0 success, 1 a refused input (printed as `CODE: message`, never a stack trace), 2 a usage error.
 */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('tessera')
    .description('Self-hosted CI whose jobs carry verifiable OpenID Connect ID tokens')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError();
  for (const [, load] of commandsToLoad(argv[2])) (await load())(program);
  return program;
}

/** Runs the CLI with `argv` (as `process.argv`) and returns the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = await buildProgram(argv);
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through exitOverride with exit code 0.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (isTesseraError(error)) {
      process.stderr.write(`${error.code}: ${error.message}\n`);
      return 1;
    }
    process.stderr.write(`ERR_INTERNAL: ${error instanceof Error ? error.message : 'unexpected failure'}\n`);
    return 1;
  }
}
