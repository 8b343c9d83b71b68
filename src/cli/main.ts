import { Command, CommanderError } from 'commander';
import { isTesseraError } from '../errors.js';
import { registerCiLintCommand } from './ci-lint.js';
import { registerIdTokenCommand } from './id-token.js';
import { registerKeysCommand } from './keys.js';
import { registerOidcCommand } from './oidc-export.js';
import { registerRunCommand } from './run.js';
import { registerRunnerCommand } from './runner.js';
import { registerServeCommand } from './serve.js';
import { registerTokenCommand } from './token.js';

/**
 * The `tessera` command line. Each command lives in its own file under `src/cli/` and exports a
 * `register…Command(program)` function; this file only wires them and turns failures into exit
 * codes: 0 success, 1 a refused input (printed as `CODE: message`, never a stack trace), 2 a usage error.
 */
export function buildProgram(): Command {
  const program = new Command('tessera')
    .description('Self-hosted CI whose jobs carry verifiable OpenID Connect ID tokens')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError();
  registerCiLintCommand(program);
  registerServeCommand(program);
  registerKeysCommand(program);
  registerOidcCommand(program);
  registerRunnerCommand(program);
  registerRunCommand(program);
  registerIdTokenCommand(program);
  registerTokenCommand(program);
  return program;
}

/** Runs the CLI with `argv` (as `process.argv`) and returns the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
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
