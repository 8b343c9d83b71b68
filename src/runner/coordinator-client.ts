import { TesseraError } from '../errors.js';
import type { JobPayload } from './job-payload.js';
import { type HttpAnswer, HttpRequestError, sendHttpRequest } from './send-http-request.js';

/** What the coordinator says about a job after an update or a trace append. */
export interface JobUpdateAnswer {
  /** HTTP status of the answer. */
  readonly httpStatus: number;
  /** The job's state on the coordinator (`Job-Status` header or `status` in the body), if given. */
  readonly jobStatus: string | undefined;
  /**
   * How many bytes of the log the coordinator has, when it says: a 416 trace answer, and a final
   * state that carried the log's last part.
   */
  readonly remoteLength?: number;
}

/** The final or keepalive update of a job (`PUT /api/v4/jobs/:id`). */
export interface JobStateUpdate {
  readonly state: 'running' | 'success' | 'failed';
  readonly exitCode?: number;
  readonly failureReason?: string;
}

/** Options of {@link CoordinatorClient}. */
export interface CoordinatorClientOptions {
  /** The coordinator's base URL (`http://host:port`, with any path prefix). */
  readonly url: string;
  /** The runner's authentication token. */
  readonly token: string;
  /** Timeout of a job request (long poll) in milliseconds; default 60 000. */
  readonly requestTimeoutMs?: number;
  /** Timeout of updates and trace appends in milliseconds; default 15 000. */
  readonly updateTimeoutMs?: number;
}

/** A failure that is worth retrying (network error, timeout, 5xx, 429). */
export class TransientCoordinatorError extends Error {
  override readonly name = 'TransientCoordinatorError';
}

/**
 * The runner's side of the coordinator protocol (GitLab's runner API shapes): long-poll for a job,
 * update its state, append to its log. Network failures, timeouts, 429 and 5xx answers throw
 * {@link TransientCoordinatorError} so the caller retries with backoff; a refused runner token is
 * `ERR_RUNNER_TOKEN_REFUSED`. No token ever appears in an error message.
 */
export class CoordinatorClient {
  readonly #base: string;
  readonly #token: string;
  readonly #requestTimeoutMs: number;
  readonly #updateTimeoutMs: number;

  constructor(options: CoordinatorClientOptions) {
    this.#base = options.url.replace(/\/+$/, '');
    this.#token = options.token;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
    this.#updateTimeoutMs = options.updateTimeoutMs ?? 15_000;
  }

  async #send(
    path: string,
    init: { method: string; headers: Record<string, string>; body: string | Buffer },
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<HttpAnswer> {
    try {
      return await sendHttpRequest(`${this.#base}${path}`, {
        ...init,
        timeoutMs,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      const reason = error instanceof HttpRequestError ? error.code : 'network error';
      throw new TransientCoordinatorError(`coordinator ${this.#base} unreachable (${reason})`, {
        cause: error,
      });
    }
  }

  /**
   * `POST /api/v4/runners/verify` (as `gitlab-runner verify` and a starting GitLab runner): checks
   * that `url` is a coordinator and that it accepts the runner token, so that a wrong `--url` or a
   * refused token stops the runner at start instead of making it retry for ever.
   *
   * @throws TesseraError `ERR_RUNNER_TOKEN_REFUSED` (401, 403) or `ERR_RUNNER_URL_INVALID` (404):
   *   mistakes that no retry mends. {@link TransientCoordinatorError} for what may pass (network
   *   errors, timeouts, 5xx, 429, redirects, other answers).
   */
  async verifyRunner(signal?: AbortSignal): Promise<void> {
    const response = await this.#send(
      '/api/v4/runners/verify',
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: this.#token }),
      },
      this.#updateTimeoutMs,
      signal,
    );
    if (response.status === 200) return;
    if (response.status === 401 || response.status === 403) {
      throw new TesseraError(
        'ERR_RUNNER_TOKEN_REFUSED',
        `the coordinator at ${this.#base} refused the runner token (HTTP ${response.status}): ` +
          'give --token (TESSERA_RUNNER_TOKEN) the token of a registered runner, or register the runner again',
      );
    }
    if (response.status === 404) {
      const base = this.#base.replace(/\/api\/v4$/i, '');
      throw new TesseraError(
        'ERR_RUNNER_URL_INVALID',
        `${this.#base} is not a Tessera coordinator (POST ${this.#base}/api/v4/runners/verify answered HTTP 404): ` +
          (base === this.#base
            ? "give --url the coordinator's base URL, without /api/v4 (what its tessera serve prints as CI_SERVER_URL)"
            : `give --url the coordinator's base URL without /api/v4: --url ${base}`),
      );
    }
    if (response.status >= 300 && response.status < 400) {
      throw new TransientCoordinatorError(
        `runner verification answered HTTP ${response.status} (a redirect${redirectTarget(response)}); the runner does not follow redirects: give --url the coordinator's final address`,
      );
    }
    throw new TransientCoordinatorError(`runner verification answered HTTP ${response.status}`);
  }

  /**
   * `POST /api/v4/jobs/request`: waits (long poll) for a job. Returns the job, or undefined when
   * the coordinator has none for this runner right now (204).
   */
  async requestJob(signal?: AbortSignal): Promise<JobPayload | undefined> {
    const response = await this.#send(
      '/api/v4/jobs/request',
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: this.#token }),
      },
      this.#requestTimeoutMs,
      signal,
    );
    if (response.status === 204) return undefined;
    if (response.status === 201) {
      try {
        return JSON.parse(response.body) as JobPayload;
      } catch (error) {
        throw new TransientCoordinatorError('coordinator answered a job request with malformed JSON', {
          cause: error,
        });
      }
    }
    if (response.status === 401 || response.status === 403) {
      throw new TesseraError(
        'ERR_RUNNER_TOKEN_REFUSED',
        `the coordinator refused the runner token (HTTP ${response.status})`,
      );
    }
    if (response.status >= 300 && response.status < 400) {
      // Followed, a redirect could carry the runner token to another host; the URL is what is wrong.
      throw new TransientCoordinatorError(
        `job request answered HTTP ${response.status} (a redirect${redirectTarget(response)}); the runner does not follow redirects: give --url the coordinator's final address`,
      );
    }
    throw new TransientCoordinatorError(`job request answered HTTP ${response.status}`);
  }

  /**
   * `PUT /api/v4/jobs/:id`: reports the job's state (keepalive while running, then the final state).
   * `trace`, with a final state, carries the log's last part (valid UTF-8) from byte `start`.
   */
  async updateJob(
    jobId: number,
    jobToken: string,
    update: JobStateUpdate,
    trace?: { readonly start: number; readonly bytes: Buffer },
  ): Promise<JobUpdateAnswer> {
    const body: Record<string, unknown> = { token: jobToken, state: update.state };
    if (update.exitCode !== undefined) body.exit_code = update.exitCode;
    if (update.failureReason !== undefined) body.failure_reason = update.failureReason;
    if (trace !== undefined) {
      body.trace = trace.bytes.toString('utf8');
      body.trace_offset = trace.start;
    }
    const response = await this.#send(
      `/api/v4/jobs/${jobId}`,
      { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
      this.#updateTimeoutMs,
    );
    return readAnswer(response);
  }

  /**
   * `PATCH /api/v4/jobs/:id/trace`: appends `bytes` at offset `start` of the job log
   * (`Content-Range: start-end`, end inclusive, as GitLab's runner sends it).
   */
  async appendTrace(jobId: number, jobToken: string, start: number, bytes: Buffer): Promise<JobUpdateAnswer> {
    const response = await this.#send(
      `/api/v4/jobs/${jobId}/trace`,
      {
        method: 'PATCH',
        headers: {
          'content-type': 'text/plain',
          'job-token': jobToken,
          'content-range': `${start}-${start + bytes.length - 1}`,
        },
        body: bytes,
      },
      this.#updateTimeoutMs,
    );
    return readAnswer(response);
  }
}

function readAnswer(response: HttpAnswer): JobUpdateAnswer {
  if (response.status >= 500 || response.status === 429) {
    throw new TransientCoordinatorError(`coordinator answered HTTP ${response.status}`);
  }
  let bodyStatus: string | undefined;
  try {
    const parsed = JSON.parse(response.body) as { status?: unknown };
    if (typeof parsed?.status === 'string') bodyStatus = parsed.status;
  } catch {
    // GitLab answers some updates with a plain body; the header is enough.
  }
  const header = headerValue(response, 'job-status');
  const range = headerValue(response, 'range');
  const remote = range ? /^(\d+)-(\d+)$/.exec(range.trim()) : null;
  return {
    httpStatus: response.status,
    jobStatus: header ?? bodyStatus,
    ...(remote ? { remoteLength: Number(remote[2]) } : {}),
  };
}

/** ` to <origin>` of a redirect's `Location`, or nothing when it has none (never its path: it may carry a token). */
function redirectTarget(response: HttpAnswer): string {
  const location = headerValue(response, 'location');
  if (location === undefined) return '';
  try {
    return ` to ${new URL(location).origin}`;
  } catch {
    return '';
  }
}

/** A single-valued header of an answer. */
function headerValue(response: HttpAnswer, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
