import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import type { ArtifactStore } from '../../artifacts/artifact-store.js';
import { extractZip } from '../../artifacts/extract-zip.js';
import { writeZip, type ZipEntry } from '../../artifacts/zip-writer.js';
import { isTesseraError } from '../../errors.js';
import type { JobOutcome, JobPayload } from '../job-payload.js';
import { collectPaths, SAFE_GIT, SAFE_GIT_ENV } from './collect-paths.js';
import { downloadArtifact, uploadArtifact } from './transfer.js';

const run = promisify(execFile);

/** Where a runner's artifact and cache work happens (see `executeJob`'s `jobFiles` option). */
export interface JobFilesOptions {
  /** The coordinator's base URL (artifacts go up and come down through its runner API). */
  readonly coordinatorUrl: string;
  /** The runner-local cache: `<cacheDir>/<project path>/<key>/cache.zip`. */
  readonly cacheDir: string;
  /**
   * A cache shared by several runners (an S3-compatible bucket, `--cache-s3`): the same
   * `<project path>/<key>/cache.zip` objects there instead of the local directory.
   */
  readonly sharedCache?: ArtifactStore;
}

/** What the hooks need of the job being run. */
export interface JobFilesContext extends JobFilesOptions {
  readonly job: JobPayload;
  readonly projectDir: string;
  readonly jobTempDir: string;
  readonly log: (line: string) => void;
  readonly signal?: AbortSignal;
}

/** A failure of an artifact or cache step that fails the job, with the line that says why. */
export class JobFilesError extends Error {}

function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function safeSegment(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[.-]+/, '') || 'project';
}

function projectCacheParts(context: JobFilesContext): string[] {
  const path = context.job.variables.findLast((variable) => variable.key === 'CI_PROJECT_PATH')?.value;
  return (path ?? context.job.job_info?.project_name ?? 'project').split('/').map(safeSegment);
}

function projectCacheDir(context: JobFilesContext): string {
  return join(context.cacheDir, ...projectCacheParts(context));
}

/** The object of `key` in the shared cache. */
function sharedCacheKey(context: JobFilesContext, key: string): string {
  return [...projectCacheParts(context), safeSegment(key), 'cache.zip'].join('/');
}

/** `key: { files }`: GitLab's key, the SHA-1 of the last commit of each file, prefixed (or `default`). */
async function derivedKey(
  context: JobFilesContext,
  files: readonly string[],
  prefix: string | undefined,
): Promise<string> {
  const commits: string[] = [];
  for (const file of files) {
    const { stdout } = await run(
      'git',
      [
        ...SAFE_GIT,
        '-C',
        context.projectDir,
        'log',
        '-1',
        '--format=%H',
        context.job.git_info.sha,
        '--',
        file,
      ],
      { env: SAFE_GIT_ENV },
    ).catch(() => ({ stdout: '' }));
    if (stdout.trim() !== '') commits.push(stdout.trim());
  }
  const digest = commits.length === 0 ? 'default' : createHash('sha1').update(commits.join('')).digest('hex');
  return prefix ? `${prefix}-${digest}` : digest;
}

async function cacheKeys(
  context: JobFilesContext,
  entry: NonNullable<JobPayload['cache']>[number],
): Promise<string[]> {
  const key =
    entry.key_files && entry.key_files.length > 0
      ? `${await derivedKey(context, entry.key_files, entry.key_prefix)}-${entry.key_suffix ?? 'non_protected'}`
      : entry.key;
  const fallback = context.job.variables.findLast((variable) => variable.key === 'CACHE_FALLBACK_KEY')?.value;
  // A key is one path segment: never `.`/`..` or with a separator, whatever the payload says.
  return [key, ...(entry.fallback_keys ?? []), ...(fallback ? [fallback] : [])]
    .map((candidate) => candidate.replace(/[/\\]/g, '-'))
    .filter((candidate) => candidate !== '' && candidate !== '.' && candidate !== '..');
}

/**
 * Before the script (GitLab's `restore_cache` and `download_artifacts` stages): extracts the
 * runner-local cache of each `cache` entry whose policy pulls (its key, then its fallback keys),
 * then downloads and extracts the artifacts of every dependency that has some. A cache that is
 * missing or damaged is a warning; artifacts that cannot be had fail the job.
 *
 * @throws JobFilesError when a dependency's artifacts cannot be downloaded or extracted.
 */
export async function restoreJobFiles(context: JobFilesContext): Promise<void> {
  const { job, log } = context;
  const caches = (job.cache ?? []).filter((entry) => entry.policy !== 'push');
  if (caches.length > 0) {
    log('Restoring cache');
    for (const entry of caches) {
      const keys = await cacheKeys(context, entry);
      let restored = false;
      for (const key of keys) {
        log(`Checking cache for ${key}...`);
        let archive = join(projectCacheDir(context), key, 'cache.zip');
        const shared = context.sharedCache;
        try {
          if (shared) {
            const object = sharedCacheKey(context, key);
            const got = await shared.get(object);
            if (got === undefined) {
              log('WARNING: file does not exist');
              continue;
            }
            log(`Downloading cache from ${shared.description}${object}`);
            archive = join(context.jobTempDir, `cache-${randomUUID()}.zip`);
            await pipeline(got.stream, createWriteStream(archive, { mode: 0o600 }));
          } else {
            const exists = await stat(archive)
              .then((s) => s.isFile())
              .catch(() => false);
            if (!exists) {
              log('WARNING: file does not exist');
              continue;
            }
            log(
              'No URL provided, cache will not be downloaded from shared cache server. Instead a local version of cache will be extracted.',
            );
          }
          await extractZip(archive, context.projectDir);
          log(`Successfully extracted cache`);
          restored = true;
          break;
        } catch (error) {
          log(`WARNING: ${error instanceof Error ? error.message : 'the cache could not be extracted'}`);
        } finally {
          if (shared) await rm(archive, { force: true });
        }
      }
      if (!restored) log('Failed to extract cache');
    }
  }
  const downloads = (job.dependencies ?? []).filter((dependency) => dependency.artifacts_file !== undefined);
  if (downloads.length === 0) return;
  log('Downloading artifacts');
  for (const dependency of downloads) {
    log(`Downloading artifacts for ${dependency.name} (${dependency.id})...`);
    const file = join(context.jobTempDir, `artifacts-${dependency.id}.zip`);
    try {
      const answer = await downloadArtifact({
        coordinatorUrl: context.coordinatorUrl,
        jobId: dependency.id,
        token: job.token,
        file,
        ...(context.signal ? { signal: context.signal } : {}),
      });
      if (answer.status !== 200) {
        const why = answer.status === 404 ? 'not found' : answer.statusText;
        throw new JobFilesError(
          `ERROR: Downloading artifacts from coordinator... ${why}  id=${dependency.id} responseStatus=${answer.statusText}`,
        );
      }
      const { size } = await stat(file);
      log(
        `Downloading artifacts from coordinator... ok  id=${dependency.id} responseStatus=${answer.statusText} size=${humanSize(size)}`,
      );
      const summary = await extractZip(file, context.projectDir).catch((error: unknown) => {
        throw new JobFilesError(
          `ERROR: Extracting artifacts of ${dependency.name} (${dependency.id}): ${isTesseraError(error) ? error.message : String(error)}`,
        );
      });
      log(`Extracted ${summary.files} files (${humanSize(summary.bytes)})`);
    } catch (error) {
      if (error instanceof JobFilesError) throw error;
      throw new JobFilesError(
        `ERROR: Downloading artifacts from coordinator... failed  id=${dependency.id}: ${error instanceof Error ? error.message : 'unknown error'}`,
      );
    } finally {
      await rm(file, { force: true });
    }
  }
}

function whenApplies(when: string | undefined, state: JobOutcome['state']): boolean {
  if (state === 'canceled') return false;
  const chosen = when ?? 'on_success';
  return chosen === 'always' || (chosen === 'on_success' ? state === 'success' : state === 'failed');
}

async function zipTo(file: string, entries: ZipEntry[]): Promise<number> {
  const output = createWriteStream(file, { mode: 0o600 });
  const done = new Promise<void>((resolve, reject) => {
    output.once('finish', resolve);
    output.once('error', reject);
  });
  try {
    await writeZip(entries, output);
  } finally {
    output.end();
  }
  await done;
  return (await stat(file)).size;
}

/**
 * After the script and `after_script` (GitLab's `archive_cache` and `upload_artifacts` stages):
 * saves each `cache` entry whose policy pushes and whose `when` matches the result into the
 * runner-local cache (written aside, then renamed into place), then zips and uploads the
 * `artifacts` entries whose `when` matches (reports gzipped, as GitLab). Answers the job's
 * outcome: a failed upload fails a job that had succeeded.
 */
export async function saveJobFiles(
  context: JobFilesContext,
  outcome: JobOutcome,
  variables: Readonly<Record<string, string>>,
): Promise<JobOutcome> {
  const { job, log } = context;
  const caches = (job.cache ?? []).filter(
    (entry) => entry.policy !== 'pull' && whenApplies(entry.when, outcome.state),
  );
  if (caches.length > 0) {
    log(`Saving cache for ${outcome.state === 'success' ? 'successful' : 'failed'} job`);
    for (const entry of caches) {
      const [key] = await cacheKeys(context, entry);
      if (key === undefined) continue;
      log(`Creating cache ${key}...`);
      try {
        const entries = await collectPaths(
          context.projectDir,
          { paths: entry.paths ?? [], untracked: entry.untracked ?? false },
          variables,
          log,
        );
        const shared = context.sharedCache;
        const dir = shared ? context.jobTempDir : join(projectCacheDir(context), key);
        await mkdir(dir, { recursive: true, mode: 0o700 });
        const temp = join(dir, `.cache-${randomUUID()}.zip`);
        try {
          await zipTo(temp, entries);
          if (shared) {
            const object = sharedCacheKey(context, key);
            log(`Uploading cache.zip to ${shared.description}${object}`);
            await shared.put(object, createReadStream(temp), Number.MAX_SAFE_INTEGER);
          } else {
            await rename(temp, join(dir, 'cache.zip'));
            log(
              'No URL provided, cache will not be uploaded to shared cache server. Cache will be stored only locally.',
            );
          }
        } finally {
          await rm(temp, { force: true });
        }
        log('Created cache');
      } catch (error) {
        log(
          `WARNING: the cache ${key} could not be saved: ${error instanceof Error ? error.message : 'unknown error'}`,
        );
      }
    }
  }
  const uploads = (job.artifacts ?? []).filter((entry) => whenApplies(entry.when, outcome.state));
  if (uploads.length === 0) return outcome;
  log(`Uploading artifacts for ${outcome.state === 'success' ? 'successful' : 'failed'} job`);
  for (const entry of uploads) {
    const type = entry.artifact_type ?? 'archive';
    const format = entry.artifact_format ?? 'zip';
    log('Uploading artifacts...');
    const file = join(context.jobTempDir, `upload-${type}`);
    try {
      const entries = await collectPaths(
        context.projectDir,
        { paths: entry.paths ?? [], exclude: entry.exclude ?? [], untracked: entry.untracked ?? false },
        variables,
        log,
      );
      if (entries.length === 0) {
        log(`WARNING: Uploading artifacts as "${type}" to coordinator... skipped: no files to upload`);
        continue;
      }
      let filename: string;
      if (format === 'zip') {
        await zipTo(file, entries);
        filename = `${entry.name || 'artifacts'}.zip`;
      } else {
        // gzip: one gzip member per file, concatenated (GitLab Runner's format for reports).
        const output = createWriteStream(file, { mode: 0o600 });
        for (const item of entries) {
          if (item.kind !== 'file') continue;
          await pipeline(createReadStream(item.source), createGzip(), output, { end: false });
        }
        await new Promise<void>((resolve, reject) =>
          output.end((error?: Error | null) => (error ? reject(error) : resolve())),
        );
        filename = `${type}.gz`;
      }
      const { size } = await stat(file);
      const answer = await uploadArtifact({
        coordinatorUrl: context.coordinatorUrl,
        jobId: job.id,
        token: job.token,
        file,
        filename,
        query: { artifact_type: type, artifact_format: format, expire_in: entry.expire_in ?? '' },
        ...(context.signal ? { signal: context.signal } : {}),
      });
      if (answer.status === 201) {
        log(
          `Uploading artifacts as "${type}" to coordinator... ${answer.statusText}  id=${job.id} responseStatus=${answer.statusText} size=${humanSize(size)}`,
        );
        continue;
      }
      const why = answer.status === 413 ? 'too large archive' : answer.statusText;
      log(
        `ERROR: Uploading artifacts as "${type}" to coordinator... ${why}  id=${job.id} responseStatus=${answer.statusText} size=${humanSize(size)}`,
      );
      const message = /"message":"([^"]*)"/.exec(answer.body)?.[1];
      if (message) log(`ERROR: ${message}`);
      return outcome.state === 'success' ? { state: 'failed', failureReason: 'unknown_failure' } : outcome;
    } catch (error) {
      log(
        `ERROR: Uploading artifacts as "${type}" to coordinator... failed: ${error instanceof Error ? error.message : 'unknown error'}`,
      );
      return outcome.state === 'success' ? { state: 'failed', failureReason: 'unknown_failure' } : outcome;
    } finally {
      await rm(file, { force: true });
    }
  }
  return outcome;
}
