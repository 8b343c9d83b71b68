import type { JobView } from './pipeline-view.js';
import type { Colour } from './run-output.js';

/**
 * How a job's state reads in the log and the summary: GitLab's status name, with
 * `failed (allowed)` for a failure that does not fail the pipeline and the exit code when known.
 */
export function jobStatusLabel(job: JobView): { text: string; colour: Colour } {
  switch (job.status) {
    case 'success':
      return { text: 'passed', colour: 'green' };
    case 'failed': {
      const details: string[] = job.allowFailure ? ['allowed'] : [];
      if (job.exitCode !== null) details.push(`exit code ${job.exitCode}`);
      if (job.failureReason && job.failureReason !== 'script_failure') details.push(job.failureReason);
      if (job.retried) details.push('retried');
      return {
        text: details.length > 0 ? `failed (${details.join(', ')})` : 'failed',
        colour: job.allowFailure ? 'yellow' : 'red',
      };
    }
    case 'canceled':
      return { text: 'canceled', colour: 'red' };
    case 'manual':
      return { text: 'manual (not run)', colour: 'yellow' };
    case 'skipped':
      return { text: 'skipped', colour: 'dim' };
    default:
      return { text: job.status, colour: 'cyan' };
  }
}

/** Seconds as `0.4s`, `12s`, `3m 05s`; `-` when unknown. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '-';
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const whole = Math.round(seconds);
  return `${Math.floor(whole / 60)}m ${String(whole % 60).padStart(2, '0')}s`;
}
