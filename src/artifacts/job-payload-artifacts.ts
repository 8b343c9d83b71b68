import type { Coordinator } from '../coordinator/coordinator.js';
import { expandVariables } from '../pipeline/expand-variables.js';
import type { PlannedJob } from '../pipeline/plan.js';
import type { JobRecord } from '../store/repositories/jobs.js';
import { CrossDependencyError, crossDependencies } from './cross-dependencies.js';
import { artifactDependencies } from './job-dependencies.js';

/** One `artifacts` entry of the job payload (GitLab Runner's `common.Artifact`). */
export interface ArtifactPayload {
  name: string;
  untracked: boolean;
  paths: string[];
  exclude: string[];
  when: string;
  artifact_type: string;
  artifact_format: string;
  expire_in: string;
}

/** One `cache` entry of the job payload (GitLab Runner's `common.Cache`). */
export interface CachePayload {
  /** The final key, `-protected`/`-non_protected` suffix included; empty when `key_files` decides it. */
  key: string;
  untracked: boolean;
  policy: string;
  paths: string[];
  when: string;
  fallback_keys: string[];
  /** Tessera: `key: { files }`; the runner derives the key from those files' content after checkout. */
  key_files?: string[];
  key_prefix?: string;
  /** Tessera: the suffix the runner appends to a key it derives (`protected` or `non_protected`). */
  key_suffix?: string;
}

/** One `dependencies` entry of the job payload (GitLab Runner's `common.Dependency`). */
export interface DependencyPayload {
  id: number;
  name: string;
  /** The downloading job's own token, as GitLab sends (never the dependency's). */
  token: string;
  artifacts_file?: { filename: string; size: number };
}

/** A dependency whose artifacts are gone: the job cannot start (GitLab's `missing_dependency_failure`). */
export class MissingDependencyError extends Error {}

function cacheKey(key: string, scope: Readonly<Record<string, string>>): string {
  // What GitLab Runner does with a key before using it as a file name.
  const expanded = expandVariables(key, scope).trim();
  return expanded.replace(/[/\\]/g, '-').replace(/^\.+$/, 'default') || 'default';
}

/**
 * The `artifacts` and `cache` of a job's payload: names and keys with the job's variables
 * expanded, cache keys suffixed `-protected` or `-non_protected` (GitLab), so an unprotected
 * branch never writes a cache that a protected ref restores (unless the entry says `unprotect`).
 */
export function buildArtifactAndCachePayload(
  spec: PlannedJob,
  refProtected: boolean,
  scope: Readonly<Record<string, string>>,
): { artifacts: ArtifactPayload[]; cache: CachePayload[] } {
  const artifacts: ArtifactPayload[] = [];
  const configured = spec.artifacts ?? null;
  if (configured !== null) {
    const expireIn = configured.expireIn ?? '';
    if (configured.paths.length > 0 || configured.untracked) {
      artifacts.push({
        name: configured.name === null ? 'artifacts' : expandVariables(configured.name, scope) || 'artifacts',
        untracked: configured.untracked,
        paths: [...configured.paths],
        exclude: [...configured.exclude],
        when: configured.when,
        artifact_type: 'archive',
        artifact_format: 'zip',
        expire_in: expireIn,
      });
    }
    for (const [type, paths] of Object.entries(configured.reports)) {
      artifacts.push({
        name: '',
        untracked: false,
        paths: [...paths],
        exclude: [],
        // GitLab uploads reports whatever the job's result.
        when: 'always',
        artifact_type: type,
        artifact_format: 'gzip',
        expire_in: expireIn,
      });
    }
  }
  const cache = (spec.cache ?? []).map((entry): CachePayload => {
    const suffix = !entry.unprotect && refProtected ? 'protected' : 'non_protected';
    const base = {
      untracked: entry.untracked,
      policy: entry.policy,
      paths: [...entry.paths],
      when: entry.when,
      fallback_keys: entry.fallbackKeys.map((key) => `${cacheKey(key, scope)}-${suffix}`),
    };
    if (typeof entry.key === 'string') return { key: `${cacheKey(entry.key, scope)}-${suffix}`, ...base };
    return {
      key: '',
      ...base,
      key_files: [...entry.key.files],
      ...(entry.key.prefix === null ? {} : { key_prefix: cacheKey(entry.key.prefix, scope) }),
      key_suffix: suffix,
    };
  });
  return { artifacts, cache };
}

/**
 * The `dependencies` of a job's payload, and the `reports:dotenv` variables it inherits from
 * them (GitLab passes them to the jobs that download their artifacts): jobs of its pipeline, then
 * the jobs its `needs:project` and `needs:pipeline` entries name (resolved now, at pickup).
 *
 * @throws MissingDependencyError when a dependency uploaded artifacts that have since expired, or
 *   a `needs:project`/`needs:pipeline` entry names no successful job the pipeline's user may read.
 */
export async function buildDependencyPayload(
  coordinator: Coordinator,
  job: JobRecord<PlannedJob>,
  jobToken: string,
): Promise<{ dependencies: DependencyPayload[]; dotenv: Record<string, string> }> {
  const dependencies: DependencyPayload[] = [];
  const dotenv: Record<string, string> = {};
  const local = await artifactDependencies(coordinator, job);
  let cross: Awaited<ReturnType<typeof crossDependencies>>;
  try {
    cross = await crossDependencies(coordinator, job);
  } catch (error) {
    if (error instanceof CrossDependencyError) throw new MissingDependencyError(error.message);
    throw error;
  }
  const sources = [...local, ...cross.filter((source) => !local.some((other) => other.id === source.id))];
  const files = await coordinator.repos.jobArtifacts.listByJobs(sources.map((source) => source.id));
  const now = coordinator.clock();
  for (const source of sources) {
    const own = files.filter((file) => file.jobId === source.id);
    const expired = own.filter((file) => file.expireAt !== null && file.expireAt <= now);
    if (expired.length > 0)
      throw new MissingDependencyError(
        `the artifacts of job ${source.name} (${source.id}) have expired; run that job again to make them anew`,
      );
    const archive = own.find((file) => file.fileType === 'archive');
    dependencies.push({
      id: source.id,
      name: source.name,
      token: jobToken,
      ...(archive ? { artifacts_file: { filename: archive.fileName, size: archive.size } } : {}),
    });
    const report = own.find((file) => file.fileType === 'dotenv');
    if (report?.variables) Object.assign(dotenv, JSON.parse(report.variables) as Record<string, string>);
  }
  return { dependencies, dotenv };
}
