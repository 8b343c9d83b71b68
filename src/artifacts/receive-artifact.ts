import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import type { Coordinator } from '../coordinator/coordinator.js';
import { TesseraError } from '../errors.js';
import { parseDuration } from '../pipeline/duration.js';
import { REPORT_TYPES } from '../pipeline/schema/artifacts.js';
import type { JobArtifactRecord } from '../store/repositories/job-artifacts.js';
import { DOTENV_LIMITS, parseDotenv } from './dotenv.js';
import { MultipartFileStream, multipartBoundary } from './multipart-file.js';
import { tooLarge } from './spool-upload.js';

/** GitLab's `artifact_type` values Tessera takes: the archive, its metadata, every report type. */
export const ARTIFACT_TYPES: readonly string[] = ['archive', 'metadata', ...REPORT_TYPES];
const ARTIFACT_FORMATS = ['zip', 'gzip', 'raw'];
/** Room for the multipart framing around the file when comparing Content-Length with the limit. */
const MULTIPART_OVERHEAD = 64 * 1024;

/** Largest refused body read to its end so that the client gets the 413 (beyond it, the connection closes). */
const MAX_DRAINED_BYTES = 256 * 1024 * 1024;

async function drain(body: Readable): Promise<void> {
  for await (const _chunk of body) {
    // dropped
  }
}

/** An upload as `POST /api/v4/jobs/:id/artifacts` receives it. */
export interface ArtifactUpload {
  readonly body: Readable;
  readonly contentType: string | undefined;
  readonly contentLength: number | undefined;
  readonly artifactType: string | undefined;
  readonly artifactFormat: string | undefined;
  readonly expireIn: string | undefined;
}

/** The largest upload `projectId` may keep, in bytes (the project's `max_artifacts_size`, else the instance's). */
export async function artifactSizeLimit(coordinator: Coordinator, projectId: number): Promise<number> {
  const project = await coordinator.repos.projects.findById(projectId);
  const megabytes = project?.maxArtifactsSize ?? coordinator.config.maxArtifactsSize;
  return megabytes * 1024 * 1024;
}

/**
 * When an artifact uploaded now with `expireIn` (or the instance's `artifactsExpireIn`) expires;
 * `null` for `never`.
 *
 * @throws TesseraError `ERR_ARTIFACTS_UPLOAD_INVALID` for a duration that is not one.
 */
export function artifactExpiry(
  coordinator: Coordinator,
  expireIn: string | undefined,
  now: number,
): number | null {
  const text = (expireIn ?? '').trim() === '' ? coordinator.config.artifactsExpireIn : expireIn!.trim();
  if (text.toLowerCase() === 'never') return null;
  const seconds = parseDuration(text);
  if (seconds === null)
    throw new TesseraError(
      'ERR_ARTIFACTS_UPLOAD_INVALID',
      `expire_in must be a duration such as "1 week", or never`,
    );
  return now + seconds * 1000;
}

/**
 * Stores one artifact file a running job uploads (GitLab Runner's multipart upload), streamed into
 * the artifact store with its size and sha256, within the size limit (413 otherwise, with nothing
 * kept), and records it. A `dotenv` report is parsed on arrival (GitLab's limits), so a bad one is
 * refused at once and its variables are ready for the jobs that depend on this one.
 *
 * @throws TesseraError `ERR_ARTIFACTS_TOO_LARGE`, `ERR_ARTIFACTS_UPLOAD_INVALID`.
 */
export async function receiveArtifact(
  coordinator: Coordinator,
  job: { readonly id: number; readonly projectId: number },
  upload: ArtifactUpload,
): Promise<JobArtifactRecord> {
  const fileType = upload.artifactType ?? 'archive';
  const fileFormat = upload.artifactFormat ?? (fileType === 'archive' ? 'zip' : 'gzip');
  if (!ARTIFACT_TYPES.includes(fileType))
    throw new TesseraError(
      'ERR_ARTIFACTS_UPLOAD_INVALID',
      `artifact_type must be one of ${ARTIFACT_TYPES.join(', ')}`,
    );
  if (!ARTIFACT_FORMATS.includes(fileFormat) || (fileType === 'archive' && fileFormat !== 'zip'))
    throw new TesseraError(
      'ERR_ARTIFACTS_UPLOAD_INVALID',
      `artifact_format must be zip for an archive, else zip, gzip or raw`,
    );
  const now = coordinator.clock();
  const expireAt = artifactExpiry(coordinator, upload.expireIn, now);
  const boundary = multipartBoundary(upload.contentType);
  if (boundary === undefined)
    throw new TesseraError(
      'ERR_ARTIFACTS_UPLOAD_INVALID',
      'the upload must be multipart/form-data (with a boundary) carrying the file in a part named "file"',
    );
  const limit =
    fileType === 'dotenv' ? DOTENV_LIMITS.maxBytes * 4 : await artifactSizeLimit(coordinator, job.projectId);
  if (upload.contentLength !== undefined && upload.contentLength > limit + MULTIPART_OVERHEAD) {
    // Read and drop the body first (up to a bound): a client still sending when the answer comes
    // and the connection closes sees a broken pipe, not the 413.
    if (upload.contentLength <= MAX_DRAINED_BYTES) await drain(upload.body);
    throw tooLarge(limit);
  }
  const parser = new MultipartFileStream(boundary);
  // Not `pipeline`: a refusal part-way (413) must not destroy the request, or the client, still
  // writing, sees a reset instead of the answer. The rest of the body is read and dropped instead.
  upload.body.pipe(parser);
  upload.body.once('error', (error) => parser.destroy(error));
  parser.once('close', () => {
    if (!upload.body.readableEnded) {
      upload.body.unpipe(parser);
      upload.body.resume();
    }
  });
  const source = parser;
  const store = coordinator.artifactStore;
  const key = `${job.projectId}/${job.id}/${fileType}-${randomUUID()}`;
  const stored = await store.put(key, source, limit);
  let variables: string | null = null;
  try {
    if (fileType === 'dotenv') variables = JSON.stringify(await readDotenv(coordinator, key, fileFormat));
    const { record, replaced } = await coordinator.repos.jobArtifacts.replace({
      jobId: job.id,
      projectId: job.projectId,
      fileType,
      fileFormat,
      fileName: parser.filename ?? `${fileType}.${fileFormat === 'zip' ? 'zip' : 'gz'}`,
      size: stored.size,
      sha256: stored.sha256,
      storeKey: key,
      variables,
      expireAt,
      createdAt: now,
    });
    if (replaced !== null) await store.delete(replaced).catch(() => undefined);
    return record;
  } catch (error) {
    await store.delete(key).catch(() => undefined);
    throw error;
  }
}

async function readDotenv(
  coordinator: Coordinator,
  key: string,
  format: string,
): Promise<Record<string, string>> {
  const stored = await coordinator.artifactStore.get(key);
  const chunks: Buffer[] = [];
  // Bounded by the upload limit of a dotenv report (4 × 5 KB).
  for await (const chunk of stored?.stream ?? []) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  let content: Buffer;
  try {
    content = format === 'gzip' ? gunzipSync(raw, { maxOutputLength: DOTENV_LIMITS.maxBytes + 1 }) : raw;
  } catch {
    throw new TesseraError(
      'ERR_ARTIFACTS_UPLOAD_INVALID',
      `the dotenv report is not gzip data, or is larger than ${DOTENV_LIMITS.maxBytes} bytes (5 KB)`,
    );
  }
  return parseDotenv(content);
}
