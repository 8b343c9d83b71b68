import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage, STATUS_CODES } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';

/** How an artifact transfer ended. */
export interface TransferAnswer {
  readonly status: number;
  /** `201 Created`, as GitLab Runner prints it. */
  readonly statusText: string;
  /** The answer's body when it is not the archive (an error's JSON), cut short. */
  readonly body: string;
}

function send(url: URL, options: { method: string; headers: Record<string, string>; signal?: AbortSignal }) {
  const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
    method: options.method,
    headers: options.headers,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const answer = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  return { request, answer };
}

async function readText(response: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of response) {
    if (text.length < 4096) text += (chunk as Buffer).toString('utf8');
  }
  return text.slice(0, 4096);
}

function statusText(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ''}`.trim();
}

/**
 * Uploads `file` as GitLab Runner does: `POST <url>/api/v4/jobs/<id>/artifacts?artifact_type=…`,
 * `JOB-TOKEN` header, a `multipart/form-data` body with the file in a part named `file`, streamed
 * from disk with its exact `Content-Length`.
 */
export async function uploadArtifact(options: {
  readonly coordinatorUrl: string;
  readonly jobId: number;
  readonly token: string;
  readonly file: string;
  readonly filename: string;
  readonly query: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
}): Promise<TransferAnswer> {
  const boundary = `tessera-${randomBytes(12).toString('hex')}`;
  const safeName = options.filename.replace(/["\r\n\\]/g, '_');
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${safeName}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const { size } = await stat(options.file);
  const url = new URL(`${options.coordinatorUrl.replace(/\/$/, '')}/api/v4/jobs/${options.jobId}/artifacts`);
  for (const [key, value] of Object.entries(options.query))
    if (value !== '') url.searchParams.set(key, value);
  const { request, answer } = send(url, {
    method: 'POST',
    headers: {
      'job-token': options.token,
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': String(head.length + size + tail.length),
    },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  request.write(head);
  // A coordinator that refuses early (413) answers before the body is sent; that answer counts.
  const body = (async function* () {
    for await (const chunk of createReadStream(options.file)) yield chunk as Buffer;
    yield tail;
  })();
  const sent = pipeline(body, request).catch(() => undefined);
  const response = await answer;
  const text = await readText(response);
  await sent;
  return { status: response.statusCode ?? 0, statusText: statusText(response.statusCode ?? 0), body: text };
}

/**
 * Downloads job `jobId`'s archive (`GET <url>/api/v4/jobs/<id>/artifacts`, `JOB-TOKEN` of the
 * downloading job) into `file`, streamed to disk. On anything but 200 nothing is written.
 */
export async function downloadArtifact(options: {
  readonly coordinatorUrl: string;
  readonly jobId: number;
  readonly token: string;
  readonly file: string;
  readonly signal?: AbortSignal;
}): Promise<TransferAnswer> {
  const url = new URL(`${options.coordinatorUrl.replace(/\/$/, '')}/api/v4/jobs/${options.jobId}/artifacts`);
  const { request, answer } = send(url, {
    method: 'GET',
    headers: { 'job-token': options.token },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  request.end();
  const response = await answer;
  const status = response.statusCode ?? 0;
  if (status !== 200) return { status, statusText: statusText(status), body: await readText(response) };
  await pipeline(response, createWriteStream(options.file, { mode: 0o600 }));
  return { status, statusText: statusText(status), body: '' };
}
