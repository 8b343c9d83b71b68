/**
 * The one error type of Tessera. Every failure that a caller, a job, a runner or a relying party
 * can cause is a {@link TesseraError} with a stable code from {@link ERROR_CATALOG}; the HTTP
 * layer renders it in one place as `{ "error": code, "message": message }`.
 *
 * Programming mistakes (a wrong argument type from our own code) stay plain `TypeError`s.
 * Messages say what to fix and never contain a token, a private key or a secret.
 */

/**
 * Every error code with the HTTP status it maps to. Codes are `ERR_<DOMAIN>_<WHAT>` and are never
 * reused for another meaning once released; `docs/errors.md` has one entry per code (a test keeps
 * both in step).
 */
export const ERROR_CATALOG = {
  // general
  ERR_INTERNAL: 500,
  ERR_NOT_FOUND: 404,
  ERR_VALIDATION: 400,
  ERR_RATE_LIMITED: 429,

  // config
  ERR_CONFIG_INVALID: 400,

  // pipeline configuration (.gitlab-ci.yml)
  ERR_PIPELINE_INVALID: 400,
  ERR_PIPELINE_INPUTS_INVALID: 400,

  // keys
  ERR_KEYS_ALGORITHM_UNSUPPORTED: 400,
  ERR_KEYS_NO_SIGNING_KEY: 503,
  ERR_KEYS_NOT_FOUND: 404,
  ERR_KEYS_STATE_INVALID: 409,
  ERR_KEYS_DECRYPT_FAILED: 500,
  ERR_KEYS_KEK_INVALID: 400,

  // token
  ERR_TOKEN_CLAIMS_INVALID: 400,
  ERR_TOKEN_AUDIENCE_INVALID: 400,
  ERR_TOKEN_LIFETIME_INVALID: 400,
  ERR_TOKEN_SUB_COMPONENTS_INVALID: 400,
  ERR_TOKEN_SUB_PATH_BURNED: 403,
  ERR_TOKEN_TOO_LARGE: 400,

  // verify (relying-party library): every rejection of a presented token
  ERR_VERIFY_MALFORMED: 401,
  ERR_VERIFY_ALGORITHM: 401,
  ERR_VERIFY_HEADER: 401,
  ERR_VERIFY_KEY_NOT_FOUND: 401,
  ERR_VERIFY_SIGNATURE: 401,
  ERR_VERIFY_ISSUER: 401,
  ERR_VERIFY_AUDIENCE: 401,
  ERR_VERIFY_EXPIRED: 401,
  ERR_VERIFY_NOT_YET_VALID: 401,
  ERR_VERIFY_ISSUED_IN_FUTURE: 401,
  ERR_VERIFY_CLAIM_TYPE: 401,
  ERR_VERIFY_BOUND_CLAIM: 401,
  ERR_VERIFY_DISCOVERY: 502,
  ERR_VERIFY_OPTIONS: 400,

  // coordinator: store, API authentication, pipelines from git, jobs, runner protocol, on-demand tokens
  ERR_STORE_MIGRATION: 500,
  ERR_CONFLICT: 409,
  ERR_AUTH_REQUIRED: 401,
  ERR_AUTH_INVALID: 401,
  ERR_FORBIDDEN: 403,
  ERR_REF_PROTECTED: 403,
  ERR_ENVIRONMENT_PROTECTED: 403,
  ERR_GIT_FAILED: 400,
  ERR_GIT_REF_NOT_FOUND: 400,
  ERR_GIT_CONFIG_NOT_FOUND: 400,
  ERR_JOB_STATE: 409,
  ERR_JOB_TOKEN_INVALID: 403,
  ERR_JOB_TRACE_RANGE: 416,
  ERR_RUNNER_TOKEN_INVALID: 403,
  ERR_ID_TOKEN_REQUEST_INVALID: 401,
  ERR_ID_TOKEN_AUDIENCE_NOT_ALLOWED: 403,
  ERR_JOB_NOT_RUNNING: 403,
  ERR_AUTH_INSUFFICIENT_SCOPE: 403,
  ERR_STORE_NOT_FOUND: 404,
  ERR_STORE_UNREACHABLE: 503,
  ERR_STORE_DATA_DIR_INVALID: 400,
  ERR_SERVER_LISTEN_FAILED: 503,
  ERR_REPOSITORY_URL_BLOCKED: 400,
  ERR_DEPLOYMENT_HAS_JOB: 403,
  ERR_DEPLOYMENT_STATUS_TRANSITION: 400,
  ERR_DEPLOYMENT_RUNNING: 400,
  ERR_DEPLOYMENT_LAST: 400,

  // runner (job execution, Vault secrets, `tessera id-token`)
  ERR_RUNNER_CHECKOUT_FAILED: 502,
  ERR_RUNNER_SECRET_CONFIG_INVALID: 400,
  ERR_RUNNER_SECRET_REFUSED: 403,
  ERR_RUNNER_SECRET_NOT_FOUND: 404,
  ERR_RUNNER_SECRET_UNAVAILABLE: 502,
  ERR_RUNNER_COORDINATOR_UNREACHABLE: 502,
  ERR_RUNNER_TOKEN_REFUSED: 403,
  ERR_RUNNER_ID_TOKEN_NOT_IN_JOB: 400,
  ERR_RUNNER_ID_TOKEN_REQUEST_FAILED: 502,
  ERR_RUNNER_URL_INVALID: 404,

  // local run (`tessera run`): what keeps a working copy's pipeline from starting
  ERR_LOCAL_RUN_NOT_A_REPOSITORY: 400,
  ERR_LOCAL_RUN_NO_REF: 400,
  ERR_LOCAL_RUN_JOB_NOT_FOUND: 400,
  ERR_LOCAL_RUN_VARIABLE_INVALID: 400,

  // pipelines that start themselves: trigger tokens, schedules, pull mirroring
  ERR_TRIGGER_TOKEN_INVALID: 404,
  ERR_SCHEDULE_CRON_INVALID: 400,
  ERR_MIRROR_NOT_ENABLED: 400,
  ERR_MIRROR_SIGNATURE_INVALID: 401,
  // artifacts and cache (runner API uploads and downloads, the archive reader, the runner's side)
  ERR_ARTIFACTS_TOO_LARGE: 413,
  ERR_ARTIFACTS_UPLOAD_INVALID: 400,
  ERR_ARTIFACTS_NOT_FOUND: 404,
  ERR_ARTIFACTS_ARCHIVE_INVALID: 400,
} as const satisfies Record<string, number>;

/** A stable error code; `switch (error.code)` narrows on it. */
export type ErrorCode = keyof typeof ERROR_CATALOG;

/** Options carried by a {@link TesseraError} beside its code and message. */
export interface TesseraErrorOptions {
  /** The underlying error, kept for logs (never rendered to API clients). */
  cause?: unknown;
  /** Structured, non-secret context a client may act on (a YAML path and line, a field name). */
  details?: Readonly<Record<string, unknown>>;
}

/**
 * Base class of every coded Tessera error.
 *
 * @example
 * ```ts
 * throw new TesseraError('ERR_TOKEN_AUDIENCE_INVALID', 'aud must be a non-empty string or array of strings');
 * ```
 */
export class TesseraError extends Error {
  /** Stable code, `ERR_<DOMAIN>_<WHAT>`. */
  readonly code: ErrorCode;
  /** HTTP status this error answers with. */
  readonly status: number;
  /** Whether the message may be shown to an API client (every 4xx); 5xx answers a generic message. */
  readonly expose: boolean;
  /** Structured context, safe to render. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options: TesseraErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = ERROR_CATALOG[code];
    this.expose = this.status < 500;
    this.details = options.details;
  }
}

/** Type guard for {@link TesseraError}, also across module copies (checks the code, not the prototype). */
export function isTesseraError(value: unknown): value is TesseraError {
  if (value instanceof TesseraError) return true;
  const code = value instanceof Error ? (value as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && Object.hasOwn(ERROR_CATALOG, code);
}
