import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ERROR_CATALOG, type ErrorCode, TesseraError } from '../errors.js';
import { parseVaultRole, type VaultRoleVerdict } from '../verify/vault-role.js';

/** The environment variable holding the personal access token `tessera token preview` sends. */
export const PRIVATE_TOKEN_ENV = 'TESSERA_PRIVATE_TOKEN';

interface PreviewFlags {
  server: string;
  project: string;
  ref: string;
  job?: string;
  aud?: string;
  vaultRole?: string;
  json?: boolean;
}

interface PreviewAnswer {
  job: string;
  ref: string;
  sha: string;
  placeholders: string[];
  tokens: Array<{
    name: string | null;
    refusal: string | null;
    claims: Record<string, unknown>;
    vault_role?: VaultRoleVerdict;
  }>;
}

/** Prints the preview for people: each token's claims, then the role's checks, one per line. */
export function formatPreview(answer: PreviewAnswer): string {
  const lines: string[] = [];
  for (const token of answer.tokens) {
    lines.push(`${token.name ?? 'token'} of job ${answer.job} at ${answer.ref} (${answer.sha.slice(0, 8)}):`);
    if (token.refusal) lines.push(`  the coordinator would refuse it: ${token.refusal}`);
    const width = Math.max(...Object.keys(token.claims).map((name) => name.length));
    for (const [name, value] of Object.entries(token.claims)) {
      const shown = typeof value === 'string' ? value : JSON.stringify(value);
      const note = answer.placeholders.includes(name) ? '  (set when the job runs)' : '';
      lines.push(`  ${name.padEnd(width)}  ${shown}${note}`);
    }
    const verdict = token.vault_role;
    if (verdict) {
      lines.push(`  Vault role: ${verdict.accepted ? 'ACCEPTS this token' : 'REFUSES this token'}`);
      for (const check of verdict.checks) {
        const what = check.claim ? `${check.check} ${check.claim}` : check.check;
        const detail = check.ok
          ? ''
          : `: ${check.reason} (token: ${check.actual === null ? 'missing' : check.actual.join(', ')}; role: ${check.expected.join(', ')})`;
        lines.push(`    ${check.ok ? 'ok  ' : 'FAIL'} ${what}${detail}`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Registers `tessera token preview --server URL --project PATH --ref REF [--job NAME] [--aud AUD]
 * [--vault-role role.json] [--json]` under `token`: asks the coordinator's
 * `/projects/:id/id_tokens/preview` (with the personal access token in `TESSERA_PRIVATE_TOKEN`)
 * for the claims the job's tokens would carry, and with a role whether Vault would accept them.
 * Exit status 1 when the role refuses a token.
 */
export function registerTokenPreviewCommand(token: Command): void {
  token
    .command('preview')
    .description(
      `Show the claims a job's ID tokens would carry (nothing is minted), and whether a Vault JWT role would accept them; needs ${PRIVATE_TOKEN_ENV}`,
    )
    .requiredOption('--server <url>', 'the coordinator (https://ci.example.com)')
    .requiredOption('--project <path>', 'the project, as group/project or its numeric id')
    .requiredOption('--ref <ref>', 'the branch or tag')
    .option('--job <name>', 'the job (default: the only job)')
    .option('--aud <audience>', "the audience (default: each of the job's id_tokens)")
    .option(
      '--vault-role <file>',
      'a Vault JWT role as `vault read -format=json auth/jwt/role/NAME` prints it',
    )
    .option('--json', 'print the answer as JSON')
    .action(async (flags: PreviewFlags) => {
      const privateToken = process.env[PRIVATE_TOKEN_ENV];
      if (!privateToken) {
        throw new TesseraError(
          'ERR_AUTH_REQUIRED',
          `set ${PRIVATE_TOKEN_ENV} to a personal access token of a developer of the project`,
        );
      }
      let base: URL;
      try {
        base = new URL(flags.server);
      } catch {
        throw new TesseraError('ERR_VALIDATION', '--server must be a URL (https://ci.example.com)');
      }
      const role = flags.vaultRole === undefined ? undefined : await readFile(flags.vaultRole, 'utf8');
      // Checked here too, so a mistyped file is named before anything is sent.
      if (role !== undefined) parseVaultRole(role);
      const url = new URL(
        `${base.pathname.replace(/\/$/, '')}/api/v4/projects/${encodeURIComponent(flags.project)}/id_tokens/preview`,
        base,
      );
      const query = {
        ref: flags.ref,
        ...(flags.job ? { job: flags.job } : {}),
        ...(flags.aud ? { aud: flags.aud } : {}),
      };
      let response: Response;
      try {
        response =
          role === undefined
            ? await fetch(`${url}?${new URLSearchParams(query)}`, {
                headers: { 'private-token': privateToken },
              })
            : await fetch(url, {
                method: 'POST',
                headers: { 'private-token': privateToken, 'content-type': 'application/json' },
                body: JSON.stringify({ ...query, role }),
              });
      } catch (error) {
        throw new TesseraError(
          'ERR_VALIDATION',
          `cannot reach --server ${base.origin}: ${(error as Error).message}`,
        );
      }
      const body = (await response.json().catch(() => undefined)) as
        | (PreviewAnswer & { error?: string; message?: string })
        | undefined;
      if (!response.ok || !body) {
        const code =
          body?.error && Object.hasOwn(ERROR_CATALOG, body.error)
            ? (body.error as ErrorCode)
            : 'ERR_INTERNAL';
        throw new TesseraError(code, body?.message ?? `the server answered ${response.status}`);
      }
      process.stdout.write(flags.json ? `${JSON.stringify(body, null, 2)}\n` : formatPreview(body));
      if (body.tokens.some((t) => t.vault_role && !t.vault_role.accepted)) process.exitCode = 1;
    });
}
