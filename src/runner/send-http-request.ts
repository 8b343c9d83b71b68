import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** An HTTP answer, read in full. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Options of {@link sendHttpRequest}. */
export interface HttpRequestOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  /** Milliseconds until the whole exchange is given up (`ETIMEDOUT`). */
  readonly timeoutMs: number;
  /** Aborting gives the exchange up (`ABORT_ERR`). */
  readonly signal?: AbortSignal;
}

/**
 * No answer came: the system error code (`ECONNREFUSED`, `ECONNRESET`, …), `ETIMEDOUT` for the
 * timeout or `ABORT_ERR` for the signal. The message names the origin only, never a path, header
 * or body (they may carry tokens).
 */
export class HttpRequestError extends Error {
  override readonly name = 'HttpRequestError';
  readonly code: string;

  constructor(origin: string, code: string, options?: ErrorOptions) {
    super(`${origin} did not answer (${code})`, options);
    this.code = code;
  }
}

// Keep-alive, so the runner's stream of updates and log appends reuses one connection; idle
// sockets are unreferenced by Node and never keep a process alive.
const agents = { 'http:': new HttpAgent({ keepAlive: true }), 'https:': new HttpsAgent({ keepAlive: true }) };

/**
 * One HTTP(S) request with node:http, its answer read as text. The runner, `tessera id-token` and
 * `tessera run` talk to the coordinator through this rather than `fetch`: Node 20 loads undici on
 * the first `fetch` (about 50 ms, which every job's `tessera id-token` would pay) and spends about
 * three times the CPU per request. Redirects are not followed.
 *
 * @throws HttpRequestError when no complete answer arrives.
 */
export function sendHttpRequest(url: string | URL, options: HttpRequestOptions): Promise<HttpAnswer> {
  const target = typeof url === 'string' ? new URL(url) : url;
  const agent = target.protocol === 'https:' ? agents['https:'] : agents['http:'];
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const fail = (code: string, cause?: unknown) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(new HttpRequestError(target.origin, code, cause === undefined ? undefined : { cause }));
    };
    const onAbort = () => {
      request.destroy();
      fail('ABORT_ERR');
    };
    const request = send(
      target,
      { method: options.method ?? 'GET', headers: options.headers, agent },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? 'ECONNRESET', error));
        response.on('end', () => {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        });
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      fail('ETIMEDOUT');
    }, options.timeoutMs);
    request.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? 'ECONNRESET', error));
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    request.end(options.body);
  });
}
