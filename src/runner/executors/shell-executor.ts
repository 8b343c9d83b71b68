import type { JobPayload } from '../job-payload.js';
import type { JobUser } from '../job-user.js';
import { type ExecutorSession, ignoredImageLines, type JobExecutor, type JobWorkspace } from './executor.js';

/**
 * The `shell` executor: the job's bash runs on the host, as the runner's user or as `jobUser`.
 * Without a job user a job can read everything the runner can: only for a trusted single-user
 * machine.
 */
export function shellExecutor(jobUser?: JobUser): JobExecutor {
  return {
    name: 'shell',
    ...(jobUser ? { jobUser } : {}),
    describe: (job: JobPayload) => [
      `Using bash for job ${job.id}${job.job_info?.name ? ` (${job.job_info.name})` : ''}${
        jobUser ? ` as ${jobUser.name}` : ''
      }`,
      ...ignoredImageLines(job, 'shell'),
    ],
    open: async (workspace: JobWorkspace): Promise<ExecutorSession> => ({
      step: (scriptFile, env) => ({
        command: 'bash',
        args: ['--noprofile', '--norc', scriptFile],
        env,
        cwd: workspace.projectDir,
        ...(jobUser ? { uid: jobUser.uid, gid: jobUser.gid } : {}),
      }),
      close: async () => undefined,
    }),
  };
}
