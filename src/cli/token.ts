import { type Command, Option } from 'commander';
import { TesseraError } from '../errors.js';
import type { SigningAlgorithm } from '../keys/algorithms.js';
import type { BoundClaims } from '../verify/bound-claims.js';
import { decodeToken, MAX_TOKEN_LENGTH } from '../verify/decode-token.js';
import { createVerifier } from '../verify/index.js';
import { registerTokenPreviewCommand } from './token-preview.js';

/** Longest input read from stdin; anything longer is refused without being read further. */
const MAX_STDIN_BYTES = MAX_TOKEN_LENGTH + 1024;

/**
 * Reads the token from `--token` or stdin (surrounding whitespace trimmed). Stops reading, and
 * refuses, as soon as the input is longer than any token we accept, so a huge or endless input
 * cannot exhaust memory.
 */
async function readToken(flag: string | undefined): Promise<string> {
  if (flag !== undefined) return flag.trim();
  const stdin = process.stdin;
  if (stdin.isTTY) {
    throw new TesseraError('ERR_VERIFY_MALFORMED', 'no token: pass --token JWT or pipe the token on stdin');
  }
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    length += buffer.length;
    if (length > MAX_STDIN_BYTES) {
      stdin.destroy();
      throw new TesseraError(
        'ERR_VERIFY_MALFORMED',
        `the token is not a well-formed JWS: the input is longer than ${MAX_TOKEN_LENGTH} characters`,
      );
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8').trim();
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Parses `--bound-claim KEY=VALUE` flags; a key given several times accepts any of its values. */
function parseBoundClaims(flags: readonly string[]): BoundClaims | undefined {
  if (flags.length === 0) return undefined;
  const bound: Record<string, string[]> = {};
  for (const flag of flags) {
    const at = flag.indexOf('=');
    if (at <= 0) {
      throw new TesseraError(
        'ERR_VERIFY_OPTIONS',
        '--bound-claim must be KEY=VALUE (for example ref_protected=true)',
      );
    }
    const key = flag.slice(0, at);
    bound[key] = [...(Object.hasOwn(bound, key) ? (bound[key] ?? []) : []), flag.slice(at + 1)];
  }
  return bound;
}

function parseLeeway(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,6}$/.test(value)) {
    throw new TesseraError('ERR_VERIFY_OPTIONS', '--leeway must be a whole number of seconds');
  }
  return Number(value);
}

interface VerifyFlags {
  issuer: string;
  audience: string[];
  boundClaim?: string[];
  boundClaimsType?: string;
  leeway?: string;
  alg?: string[];
  token?: string;
}

/**
 * Registers `tessera token verify` (verify a token against an issuer, print its claims) and
 * `tessera token decode` (print header and claims without verifying them) and `tessera token
 * preview` (the claims a job's tokens would carry; see `token-preview.ts`).
 */
export function registerTokenCommand(program: Command): void {
  const token = program.command('token').description('Verify, decode or preview ID tokens');
  registerTokenPreviewCommand(token);

  token
    .command('verify')
    .description(
      'Verify an ID token against an issuer (discovery + JWKS) and print its claims as JSON; the token is read from stdin unless --token is given',
    )
    .requiredOption('--issuer <url>', 'expected issuer (iss), byte for byte')
    .requiredOption('--audience <aud>', 'expected audience; repeat to accept any of several', collect)
    .option(
      '--bound-claim <key=value>',
      'claim that must match; repeatable, a key given twice accepts either (default: none)',
      collect,
    )
    .addOption(
      new Option(
        '--bound-claims-type <type>',
        'how bound claims match: string (exact) or glob (* wildcards)',
      ).default('string', 'string'),
    )
    .option('--leeway <seconds>', 'allowed clock skew on exp, nbf and iat (default: 60)')
    .option('--alg <alg>', 'accepted algorithm; repeatable (default: RS256 and ES256)', collect)
    .option('--token <jwt>', 'the token (default: read from stdin)')
    .action(async (flags: VerifyFlags) => {
      const verifier = createVerifier({
        issuer: flags.issuer,
        audience: flags.audience,
        algorithms: flags.alg !== undefined ? (flags.alg as SigningAlgorithm[]) : undefined,
        boundClaims: parseBoundClaims(flags.boundClaim ?? []),
        boundClaimsType: flags.boundClaimsType as 'string' | 'glob',
        leeway: parseLeeway(flags.leeway),
      });
      const claims = await verifier.verify(await readToken(flags.token));
      process.stdout.write(`${JSON.stringify(claims, null, 2)}\n`);
    });

  token
    .command('decode')
    .description(
      'Print a token\'s header and claims WITHOUT verifying its signature (output is marked "verified": false)',
    )
    .option('--token <jwt>', 'the token (default: read from stdin)')
    .action(async (flags: { token?: string }) => {
      const decoded = decodeToken(await readToken(flags.token));
      const output = {
        verified: false,
        warning: 'not verified: the signature, issuer, audience and times were NOT checked',
        header: decoded.header,
        claims: decoded.payload,
      };
      process.stdout.write(`${JSON.stringify(output, null, 2)}\n`);
    });
}
