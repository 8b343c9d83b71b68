import type { JobVariable } from './job-variable.js';
import type { VaultSecretConfig } from './vault-secrets.js';

/** One step of a job (GitLab's `steps` entry): `script` (before_script + script) or `after_script`. */
export interface JobStep {
  readonly name: 'script' | 'after_script' | string;
  readonly script: readonly string[];
  /** Seconds. */
  readonly timeout?: number | null;
  readonly when?: 'on_success' | 'on_failure' | 'always' | string;
  readonly allow_failure?: boolean;
}

/** A pull policy of GitLab's docker executor, tried in order: `always`, `if-not-present`, `never`. */
export type PullPolicy = 'always' | 'if-not-present' | 'never';

/** The job's `image:` as GitLab's runner protocol carries it (`common.Image`). */
export interface JobImage {
  readonly name: string;
  /** Replaces the image's entrypoint; `[""]` clears it. */
  readonly entrypoint?: readonly string[] | null;
  readonly pull_policy?: readonly PullPolicy[] | null;
  /** `image:docker:user` of the YAML: the user the job's commands run as in the container. */
  readonly executor_opts?: { readonly docker?: { readonly user?: string | null } | null } | null;
}

/** One `services:` entry as GitLab's runner protocol carries it. */
export interface JobService extends JobImage {
  /** Host names the service is reachable by, besides those derived from its image name. */
  readonly alias?: string | null;
  /** Replaces the image's command (`CMD`). */
  readonly command?: readonly string[] | null;
  /** Variables of this service only. */
  readonly variables?: readonly JobVariable[] | null;
}

/**
 * A job as `POST /api/v4/jobs/request` hands it to a runner (the subset of GitLab's
 * `JobRequest::Response` that Tessera uses).
 */
export interface JobPayload {
  readonly id: number;
  /** The job token: authenticates the runner's updates for this job; masked in the log. */
  readonly token: string;
  readonly variables: readonly JobVariable[];
  readonly steps: readonly JobStep[];
  readonly git_info: {
    readonly repo_url: string;
    readonly ref?: string;
    readonly sha: string;
    readonly ref_type?: string;
  };
  readonly job_info?: {
    readonly name?: string;
    readonly stage?: string;
    readonly project_id?: number | string;
    readonly project_name?: string;
  };
  /** `timeout`: the job's timeout in seconds. */
  readonly runner_info?: { readonly timeout?: number | null };
  readonly secrets?: Readonly<Record<string, VaultSecretConfig>> | null;
  /** GitLab's `hooks`: `pre_get_sources_script` runs before the sources are fetched. */
  readonly hooks?: readonly { readonly name: string; readonly script: readonly string[] }[] | null;
  /** The container image the job asks for; only the `docker` executor uses it. */
  readonly image?: JobImage | null;
  readonly services?: readonly JobService[] | null;
  /** `failure_reasons`: those the coordinator accepts (others are reported as older ones). */
  readonly features?: { readonly failure_reasons?: readonly string[] } | null;
  /** What to upload after the job (GitLab's `artifacts`: the archive and each report). */
  readonly artifacts?:
    | readonly {
        readonly name?: string;
        readonly untracked?: boolean;
        readonly paths?: readonly string[];
        readonly exclude?: readonly string[];
        readonly when?: string;
        readonly artifact_type?: string;
        readonly artifact_format?: string;
        readonly expire_in?: string;
      }[]
    | null;
  /** Caches to restore before and save after the job (GitLab's `cache`). */
  readonly cache?:
    | readonly {
        readonly key: string;
        readonly untracked?: boolean;
        readonly policy?: string;
        readonly paths?: readonly string[];
        readonly when?: string;
        readonly fallback_keys?: readonly string[];
        /** Tessera: `key: { files }`, derived by the runner after checkout. */
        readonly key_files?: readonly string[];
        readonly key_prefix?: string;
        readonly key_suffix?: string;
      }[]
    | null;
  /** Jobs whose artifacts to download first (GitLab's `dependencies`). */
  readonly dependencies?:
    | readonly {
        readonly id: number;
        readonly name: string;
        readonly token?: string;
        readonly artifacts_file?: { readonly filename: string; readonly size: number };
      }[]
    | null;
}

/** How a job ended, as the runner reports it (`PUT /api/v4/jobs/:id`). */
export interface JobOutcome {
  readonly state: 'success' | 'failed' | 'canceled';
  /** GitLab's failure reasons: `script_failure`, `job_execution_timeout`, `runner_system_failure`, … */
  readonly failureReason?: string;
  /** The script step's exit code, when it exited by itself. */
  readonly exitCode?: number;
}
