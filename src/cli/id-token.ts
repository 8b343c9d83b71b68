import type { Command } from 'commander';
import { TesseraError } from '../errors.js';
import { requestIdToken } from '../runner/request-id-token.js';

interface IdTokenFlags {
  audience: string;
  lifetime?: string;
  alg?: string;
}

/**
 * Registers `tessera id-token --audience A [--lifetime S] [--alg ES256]`: prints a fresh ID token
 * from inside a running job (on stdout, one line). Errors are one line `CODE: message` on stderr
 * and exit 1, and never show the token or the request token.
 */
export function registerIdTokenCommand(program: Command): void {
  program
    .command('id-token')
    .description(
      'Print a fresh ID token for this job (inside a running job: reads TESSERA_ID_TOKEN_REQUEST_URL and TESSERA_ID_TOKEN_REQUEST_TOKEN, or their ACTIONS_ID_TOKEN_REQUEST_* twins)',
    )
    .requiredOption('--audience <aud>', 'the token audience (aud)')
    .option(
      '--lifetime <seconds>',
      "token lifetime in seconds, at most the instance's or project's cap (default: the instance's TESSERA_ON_DEMAND_DEFAULT_LIFETIME, 300)",
    )
    .option('--alg <alg>', 'signing algorithm: RS256 or ES256 (default: RS256)')
    .action(async (flags: IdTokenFlags) => {
      let lifetime: number | undefined;
      if (flags.lifetime !== undefined) {
        if (!/^\d{1,6}$/.test(flags.lifetime)) {
          throw new TesseraError(
            'ERR_TOKEN_LIFETIME_INVALID',
            '--lifetime must be a whole number of seconds',
          );
        }
        lifetime = Number(flags.lifetime);
      }
      const token = await requestIdToken({ audience: flags.audience, lifetime, alg: flags.alg });
      process.stdout.write(`${token}\n`);
    });
}
