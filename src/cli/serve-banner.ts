import { existsSync } from 'node:fs';
import { basename, isAbsolute, join, relative } from 'node:path';
import type { TesseraConfig } from '../config/defaults.js';
import { ADMIN_TOKEN_FILE, BOOTSTRAP_ADMIN_TOKEN_ENV } from '../coordinator/bootstrap-admin.js';
import { decideStyle } from '../local-run/run-output.js';

/** How the embedded runner runs jobs, for {@link serveBanner}. */
export interface EmbeddedRunnerSummary {
  /** Jobs it runs at once. */
  readonly concurrency: number;
  /** Its executor's name. */
  readonly executor: string;
  /** Why jobs are not sandboxed, when the default sandbox could not be had. */
  readonly unsandboxedReason?: string;
}

/** What {@link serveBanner} describes. */
export interface ServeBannerInput {
  /**
   * The running coordinator's listen URL, its issuer and the API base given to runners and jobs
   * as `CI_SERVER_URL` (default: the issuer's origin, as the coordinator derives it).
   */
  readonly server: { readonly url: string; readonly issuer: string; readonly serverUrl?: string };
  readonly config: Pick<TesseraConfig, 'dataDir' | 'database'>;
  /** The embedded runner, or undefined when there is none. */
  readonly embeddedRunner?: EmbeddedRunnerSummary | undefined;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Directory paths are shown relative to (default the process's). */
  readonly cwd?: string;
  /** How the user invokes Tessera (default from `process.argv[1]`: `node bin/tessera.js` in a checkout, else `tessera`). */
  readonly command?: string;
  /** Bold headings (default: stderr is a terminal and `NO_COLOR` is unset). */
  readonly fancy?: boolean;
}

/**
 * The first-run banner of `tessera serve` (and `npm start`): where the API, the issuer, the
 * discovery document and the JWKS are, where the admin token is (a file path or the variable it
 * came from, never the token itself: the coordinator prints a generated one once, just above),
 * whether an embedded runner runs jobs, and the next commands to try.
 */
export function serveBanner(input: ServeBannerInput): string {
  const env = input.env ?? process.env;
  const cwd = input.cwd ?? process.cwd();
  const fancy = input.fancy ?? decideStyle(process.stderr, env);
  const bold = (text: string) => (fancy ? `\u001b[1m${text}\u001b[22m` : text);
  const shown = (path: string) => {
    const rel = relative(cwd, path);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
  };
  const issuer = input.server.issuer;
  const discovery = `${issuer}/.well-known/openid-configuration`;
  const tokenFile = join(input.config.dataDir, ADMIN_TOKEN_FILE);
  const fromEnv = env[BOOTSTRAP_ADMIN_TOKEN_ENV];
  let adminToken: string;
  let tokenCommand: string;
  if (fromEnv !== undefined && fromEnv !== '') {
    adminToken = `the value of ${BOOTSTRAP_ADMIN_TOKEN_ENV} (user root)`;
    tokenCommand = `$${BOOTSTRAP_ADMIN_TOKEN_ENV}`;
  } else if (existsSync(tokenFile)) {
    adminToken = `${shown(tokenFile)} (user root, mode 0600)`;
    tokenCommand = `$(cat ${quoteForShell(shown(tokenFile))})`;
  } else {
    adminToken = `no longer on disk (it was printed once and written to ${shown(tokenFile)} at first start)`;
    tokenCommand = '<your token>';
  }
  const command = input.command ?? defaultCommand(cwd);
  // One spelling everywhere: the API base jobs get, not the address bound (127.0.0.1 and localhost
  // are different issuers to a verifier, which compares them byte for byte).
  const apiUrl = input.server.serverUrl ?? new URL(issuer).origin;
  const rows: Array<[string, string]> = [
    ...(apiUrl === input.server.url ? [] : [['Listening on', input.server.url] as [string, string]]),
    ['API (CI_SERVER_URL)', apiUrl],
    ['Issuer', issuer],
    ['Discovery', discovery],
    ['JWKS', `${issuer}/oauth/discovery/keys`],
    ['Admin token', adminToken],
    [
      'Embedded runner',
      input.embeddedRunner === undefined
        ? `off (add --embedded-runner, or start one: ${command} runner --url ${apiUrl} --token …)`
        : `on, ${input.embeddedRunner.concurrency} job${input.embeddedRunner.concurrency === 1 ? '' : 's'} at once, "${input.embeddedRunner.executor}" executor`,
    ],
    ['Store', input.config.database === '' ? `SQLite in ${shown(input.config.dataDir)}` : 'PostgreSQL'],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const unsandboxed = input.embeddedRunner?.unsandboxedReason;
  return [
    '',
    bold('Tessera is ready.'),
    ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`),
    ...(unsandboxed === undefined
      ? []
      : [
          '',
          bold('WARNING: jobs are not sandboxed.'),
          `  ${unsandboxed}.`,
          "  Every job runs as this process's user and can read this instance's signing keys, so any",
          '  developer who can push a branch can mint tokens for protected refs. Fix it with',
          '  `apt-get install bubblewrap` (then restart), or run jobs on a separate runner.',
        ]),
    '',
    bold('Try:'),
    `  curl -s ${discovery}`,
    `  curl -s -H "PRIVATE-TOKEN: ${tokenCommand}" ${apiUrl}/api/v4/user`,
    `  ${command} run /path/to/a/git/repo    # run its .gitlab-ci.yml locally, with real ID tokens`,
    '',
    'Stop with Ctrl-C.',
    '',
  ].join('\n');
}

function quoteForShell(text: string): string {
  return /^[\w./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** `node bin/tessera.js` when run from a checkout's script, `tessera` when installed as a command. */
function defaultCommand(cwd: string): string {
  const script = process.argv[1];
  if (script === undefined || basename(script) !== 'tessera.js') return 'tessera';
  const rel = relative(cwd, script);
  return `node ${rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : script}`;
}
