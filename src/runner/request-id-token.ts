import { ERROR_CATALOG, type ErrorCode, TesseraError } from '../errors.js';
import { type HttpAnswer, HttpRequestError, sendHttpRequest } from './send-http-request.js';

/** Options of {@link requestIdToken}. */
export interface RequestIdTokenOptions {
  /** One audience (`aud`). */
  readonly audience: string;
  /** Lifetime in seconds; the coordinator's default (300) when absent. */
  readonly lifetime?: number;
  /** `RS256` (default) or `ES256`. */
  readonly alg?: string;
  /** Where the request URL and token come from; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Milliseconds; default 30 000. */
  readonly timeoutMs?: number;
}

/**
 * Asks the coordinator for a fresh ID token from inside a running job (the request protocol of
 * GitHub Actions' toolkit): `GET <TESSERA_ID_TOKEN_REQUEST_URL>&audience=…` with
 * `Authorization: Bearer <TESSERA_ID_TOKEN_REQUEST_TOKEN>` (or the `ACTIONS_ID_TOKEN_REQUEST_*`
 * twins), answering `{"value": jwt}`. Returns the token. Errors carry the coordinator's own error
 * code when it sent one, and never the token or the request token.
 */
export async function requestIdToken(options: RequestIdTokenOptions): Promise<string> {
  const env = options.env ?? process.env;
  const url = env.TESSERA_ID_TOKEN_REQUEST_URL || env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const requestToken = env.TESSERA_ID_TOKEN_REQUEST_TOKEN || env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!url || !requestToken) {
    throw new TesseraError(
      'ERR_RUNNER_ID_TOKEN_NOT_IN_JOB',
      'TESSERA_ID_TOKEN_REQUEST_URL and TESSERA_ID_TOKEN_REQUEST_TOKEN are not set: run this inside a Tessera job',
    );
  }
  if (options.audience.trim() === '') {
    throw new TesseraError('ERR_TOKEN_AUDIENCE_INVALID', '--audience must not be empty');
  }
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new TesseraError('ERR_RUNNER_ID_TOKEN_NOT_IN_JOB', 'TESSERA_ID_TOKEN_REQUEST_URL is not a URL');
  }
  target.searchParams.set('audience', options.audience);
  if (options.lifetime !== undefined) target.searchParams.set('lifetime', String(options.lifetime));
  if (options.alg !== undefined) target.searchParams.set('alg', options.alg);

  let response: HttpAnswer;
  try {
    response = await sendHttpRequest(target, {
      headers: { authorization: `Bearer ${requestToken}`, accept: 'application/json' },
      timeoutMs: options.timeoutMs ?? 30_000,
    });
  } catch (error) {
    const reason = error instanceof HttpRequestError ? error.code : 'network error';
    throw new TesseraError('ERR_RUNNER_COORDINATOR_UNREACHABLE', `cannot reach ${target.origin} (${reason})`);
  }
  let body: { value?: unknown; error?: unknown; message?: unknown } = {};
  try {
    body = JSON.parse(response.body) as typeof body;
  } catch {
    // Reported below by status or missing value.
  }
  if (response.status < 200 || response.status > 299) {
    const code =
      typeof body.error === 'string' && Object.hasOwn(ERROR_CATALOG, body.error) ? body.error : undefined;
    const message = typeof body.message === 'string' ? body.message.slice(0, 500) : `HTTP ${response.status}`;
    throw new TesseraError(
      (code as ErrorCode | undefined) ?? 'ERR_RUNNER_ID_TOKEN_REQUEST_FAILED',
      code ? message : `the coordinator refused the token request: ${message}`,
    );
  }
  if (typeof body.value !== 'string' || body.value === '') {
    throw new TesseraError('ERR_RUNNER_ID_TOKEN_REQUEST_FAILED', 'the coordinator answered without a token');
  }
  return body.value;
}
