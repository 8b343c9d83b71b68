import { ERROR_CATALOG, type ErrorCode, TesseraError } from '../errors.js';
import { sendHttpRequest } from '../runner/send-http-request.js';

/** The embedded coordinator answers in milliseconds; a minute means it is stuck. */
const REQUEST_TIMEOUT_MS = 60_000;

/** The job fields of GitLab's job shape that a local run reads. */
export interface ApiJob {
  id: number;
  name: string;
  stage: string;
  status: string;
  allow_failure: boolean;
  when: string;
  started_at: string | null;
  finished_at: string | null;
  duration: number | null;
  failure_reason?: string;
  exit_code: number | null;
  /** A later attempt replaced this one (`retry:`). */
  retried?: boolean;
}

/** The pipeline fields a local run reads. */
export interface ApiPipeline {
  id: number;
  sha: string;
  ref: string;
  status: string;
  warnings?: string[];
}

/**
 * The embedded coordinator's API v4 as its admin: the same GitLab-shaped endpoints any client
 * uses, so a local run exercises exactly what a real instance serves.
 */
export class LocalApi {
  readonly #url: string;
  readonly #token: string;

  constructor(url: string, token: string) {
    this.#url = url;
    this.#token = token;
  }

  /** Sends a request; answers the parsed JSON (or text), or throws the coordinator's coded error. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await sendHttpRequest(`${this.#url}/api/v4${path}`, {
      method,
      headers: {
        'private-token': this.#token,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      timeoutMs: REQUEST_TIMEOUT_MS,
    });
    const text = response.body;
    const type = response.headers['content-type'] ?? '';
    const parsed: unknown = type.includes('application/json') && text !== '' ? JSON.parse(text) : text;
    if (response.status >= 300) throw toError(response.status, parsed);
    return parsed as T;
  }

  /** A job's log as the coordinator keeps it (already masked by the runner). */
  trace(projectId: number, jobId: number): Promise<string> {
    return this.request<string>('GET', `/projects/${projectId}/jobs/${jobId}/trace`);
  }

  /** The latest attempt of every job of a pipeline. */
  jobs(projectId: number, pipelineId: number): Promise<ApiJob[]> {
    return this.request<ApiJob[]>('GET', `/projects/${projectId}/pipelines/${pipelineId}/jobs`);
  }

  pipeline(projectId: number, pipelineId: number): Promise<ApiPipeline> {
    return this.request<ApiPipeline>('GET', `/projects/${projectId}/pipelines/${pipelineId}`);
  }
}

/** The coordinator's `{error, message, details}` answer as the same {@link TesseraError}. */
function toError(status: number, body: unknown): Error {
  if (typeof body === 'object' && body !== null) {
    const { error, message, details } = body as { error?: unknown; message?: unknown; details?: unknown };
    if (typeof error === 'string' && Object.hasOwn(ERROR_CATALOG, error) && typeof message === 'string') {
      return new TesseraError(
        error as ErrorCode,
        message,
        typeof details === 'object' && details !== null
          ? { details: details as Record<string, unknown> }
          : {},
      );
    }
  }
  return new TesseraError('ERR_INTERNAL', `the embedded coordinator answered HTTP ${status}`);
}
