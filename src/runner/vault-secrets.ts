import { TesseraError } from '../errors.js';
import { expandVariables, type JobVariable } from './job-variable.js';
import { type HttpAnswer, sendHttpRequest } from './send-http-request.js';

/**
 * One entry of a job's `secrets:` as the coordinator sends it (GitLab's `secrets_configuration`).
 * Strings may hold `$VARIABLE` references (the JWT always does: `$VAULT_ID_TOKEN`), which the
 * runner expands against the job's variables.
 */
export interface VaultSecretConfig {
  readonly vault: {
    readonly server: {
      readonly url?: string | null;
      readonly namespace?: string | null;
      readonly auth: {
        readonly name?: string;
        readonly path?: string | null;
        readonly data: { readonly jwt?: string; readonly role?: string | null };
      };
    };
    readonly engine?: { readonly name?: string; readonly path?: string };
    readonly path: string;
    readonly field: string;
  };
  /** File-type variable (the default, as in GitLab) or a plain one. */
  readonly file?: boolean;
}

/** Options of {@link resolveVaultSecrets}. */
export interface ResolveVaultSecretsOptions {
  /** Variable name → secret configuration. */
  readonly secrets: Readonly<Record<string, VaultSecretConfig>>;
  /** The job's variables, for `$VAR` expansion (the ID tokens among them). */
  readonly variables: readonly JobVariable[];
  /** Progress lines for the job log (never a value or a token). */
  readonly onLog?: (line: string) => void;
  /** Per-request timeout in milliseconds; default 30 000. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

const VAULT_MESSAGE_MAX = 300;

interface VaultAnswer {
  readonly status: number;
  readonly body: unknown;
}

function describeVaultErrors(body: unknown): string {
  const errors = (body as { errors?: unknown } | null)?.errors;
  if (Array.isArray(errors) && errors.length > 0) {
    return errors
      .map((error) => String(error))
      .join('; ')
      .slice(0, VAULT_MESSAGE_MAX);
  }
  return 'no error message';
}

async function callVault(
  url: string,
  init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string },
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<VaultAnswer> {
  let response: HttpAnswer;
  try {
    response = await sendHttpRequest(url, { ...init, timeoutMs, ...(signal ? { signal } : {}) });
  } catch (error) {
    throw new TesseraError(
      'ERR_RUNNER_SECRET_UNAVAILABLE',
      `Vault at ${new URL(url).origin} cannot be reached: ${error instanceof Error ? error.message : 'network error'}`,
      { cause: error },
    );
  }
  let body: unknown = null;
  if (response.body.trim() !== '') {
    try {
      body = JSON.parse(response.body);
    } catch {
      if (response.status >= 200 && response.status <= 299) {
        throw new TesseraError(
          'ERR_RUNNER_SECRET_UNAVAILABLE',
          `Vault answered ${url} with a body that is not JSON`,
        );
      }
    }
  }
  return { status: response.status, body };
}

function refusal(what: string, answer: VaultAnswer): TesseraError {
  const reason = describeVaultErrors(answer.body);
  if (answer.status >= 500) {
    return new TesseraError(
      'ERR_RUNNER_SECRET_UNAVAILABLE',
      `${what}: Vault answered HTTP ${answer.status}: ${reason}`,
    );
  }
  return new TesseraError(
    'ERR_RUNNER_SECRET_REFUSED',
    `${what}: Vault answered HTTP ${answer.status}: ${reason}`,
  );
}

function trimSlashes(text: string): string {
  return text.replace(/^\/+|\/+$/g, '');
}

/**
 * Resolves a job's `secrets:` from HashiCorp Vault as gitlab-runner does: for each secret, log in
 * with the job's ID token (`POST <url>/v1/auth/<path>/login {role, jwt}`, once per server, auth
 * path, role and token), read the field from KV v2 (`<engine>/data/<path>`, the default) or KV v1
 * / generic (`<engine>/<path>`), and return it as a masked variable, a file variable unless
 * `file: false`. Anything missing or refused fails with a message that names the variable, the
 * path and Vault's reason, and never the JWT, the Vault token or a secret's value.
 */
export async function resolveVaultSecrets(options: ResolveVaultSecretsOptions): Promise<JobVariable[]> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const log = options.onLog ?? (() => {});
  const logins = new Map<string, Promise<string>>();
  const resolved: JobVariable[] = [];
  const expand = (text: string | null | undefined) =>
    text === null || text === undefined ? '' : expandVariables(text, options.variables);

  for (const [name, secret] of Object.entries(options.secrets)) {
    const vault = secret.vault;
    if (vault === undefined || vault === null) {
      throw new TesseraError(
        'ERR_RUNNER_SECRET_CONFIG_INVALID',
        `secret ${name} names no supported provider (only vault)`,
      );
    }
    const serverUrl = expand(vault.server.url).replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]/i.test(serverUrl)) {
      throw new TesseraError(
        'ERR_RUNNER_SECRET_CONFIG_INVALID',
        `secret ${name}: VAULT_SERVER_URL is missing or not an http(s) URL`,
      );
    }
    const namespace = expand(vault.server.namespace);
    const authPath = trimSlashes(expand(vault.server.auth.path) || 'jwt');
    const jwtReference = vault.server.auth.data.jwt ?? '';
    const jwt = expand(jwtReference);
    if (jwt === '') {
      throw new TesseraError(
        'ERR_RUNNER_SECRET_CONFIG_INVALID',
        `secret ${name}: the ID token for the Vault login (${jwtReference || 'none named'}) is not set; declare it under id_tokens`,
      );
    }
    const role = expand(vault.server.auth.data.role);
    const engineName = expand(vault.engine?.name) || 'kv-v2';
    const enginePath = trimSlashes(expand(vault.engine?.path) || 'kv-v2');
    const secretPath = trimSlashes(expand(vault.path));
    const field = expand(vault.field);
    if (!['kv-v2', 'kv-v1', 'generic'].includes(engineName)) {
      throw new TesseraError(
        'ERR_RUNNER_SECRET_CONFIG_INVALID',
        `secret ${name}: engine ${engineName} is not supported (kv-v2, kv-v1 or generic)`,
      );
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (namespace !== '') headers['x-vault-namespace'] = namespace;

    const loginKey = JSON.stringify([serverUrl, namespace, authPath, role, jwt]);
    let login = logins.get(loginKey);
    if (login === undefined) {
      log(`Logging in to Vault at ${serverUrl} (auth/${authPath}${role ? `, role ${role}` : ''})`);
      login = (async () => {
        const body: Record<string, string> = { jwt };
        if (role !== '') body.role = role;
        const answer = await callVault(
          `${serverUrl}/v1/auth/${authPath}/login`,
          {
            method: 'POST',
            headers: { ...headers, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          },
          timeoutMs,
          options.signal,
        );
        if (answer.status < 200 || answer.status >= 300) {
          throw refusal(`Vault login at auth/${authPath} for secret ${name} failed`, answer);
        }
        const token = (answer.body as { auth?: { client_token?: unknown } } | null)?.auth?.client_token;
        if (typeof token !== 'string' || token === '') {
          throw new TesseraError(
            'ERR_RUNNER_SECRET_UNAVAILABLE',
            `Vault login at auth/${authPath} returned no client token`,
          );
        }
        return token;
      })();
      logins.set(loginKey, login);
    }
    const vaultToken = await login;

    const readPath =
      engineName === 'kv-v2' ? `${enginePath}/data/${secretPath}` : `${enginePath}/${secretPath}`;
    const where = `${readPath} field ${field}`;
    const answer = await callVault(
      `${serverUrl}/v1/${readPath}`,
      { method: 'GET', headers: { ...headers, 'x-vault-token': vaultToken } },
      timeoutMs,
      options.signal,
    );
    if (answer.status === 404) {
      throw new TesseraError(
        'ERR_RUNNER_SECRET_NOT_FOUND',
        `secret ${name}: ${readPath} does not exist in Vault`,
      );
    }
    if (answer.status < 200 || answer.status >= 300)
      throw refusal(`reading secret ${name} from ${readPath}`, answer);
    const outer = (answer.body as { data?: unknown } | null)?.data;
    const data = engineName === 'kv-v2' ? (outer as { data?: unknown } | null | undefined)?.data : outer;
    if (data === null || typeof data !== 'object' || !Object.hasOwn(data, field)) {
      throw new TesseraError(
        'ERR_RUNNER_SECRET_NOT_FOUND',
        `secret ${name}: ${where} does not exist in Vault`,
      );
    }
    const raw = (data as Record<string, unknown>)[field];
    if (raw === null || raw === undefined) {
      throw new TesseraError('ERR_RUNNER_SECRET_NOT_FOUND', `secret ${name}: ${where} has no value`);
    }
    // gitlab-runner formats any JSON value with Go's %v; strings stay as they are, the rest as JSON.
    const value = typeof raw === 'string' ? raw : JSON.stringify(raw);
    log(`Resolved secret ${name} from ${where}`);
    resolved.push({ key: name, value, masked: true, public: false, file: secret.file !== false });
  }
  return resolved;
}
