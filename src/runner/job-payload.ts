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
}

/** How a job ended, as the runner reports it (`PUT /api/v4/jobs/:id`). */
export interface JobOutcome {
  readonly state: 'success' | 'failed' | 'canceled';
  /** GitLab's failure reasons: `script_failure`, `job_execution_timeout`, `runner_system_failure`, … */
  readonly failureReason?: string;
  /** The script step's exit code, when it exited by itself. */
  readonly exitCode?: number;
}
