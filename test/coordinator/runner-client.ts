import type { TestCoordinator } from '../server/harness.js';

/** A job payload as the runner protocol answers it (the fields tests look at). */
export interface TestJobPayload {
  id: number;
  token: string;
  variables: Array<{ key: string; value: string; public: boolean; masked: boolean; file?: boolean }>;
  steps: Array<{ name: string; script: string[]; timeout: number; when: string; allow_failure: boolean }>;
  git_info: { repo_url: string; ref: string; sha: string; ref_type: string };
  job_info: { name: string; stage: string; project_id: number; project_name: string };
  runner_info: { timeout: number };
  secrets: Record<string, unknown>;
  image: Record<string, unknown> | null;
  services: Array<Record<string, unknown>>;
  features: { failure_reasons: string[] };
  hooks: Array<{ name: string; script: string[] }>;
}

/** Registers an instance runner through the API and answers its token. */
export async function registerRunner(
  c: TestCoordinator,
  body: Record<string, unknown> = {},
): Promise<string> {
  const runner = await c.api('POST', '/api/v4/user/runners', {
    body: { runner_type: 'instance_type', ...body },
  });
  if (runner.status !== 201) throw new Error(runner.text);
  return runner.body.token;
}

/** One `POST /jobs/request`: the payload, or null for 204. */
export async function requestJob(c: TestCoordinator, runnerToken: string): Promise<TestJobPayload | null> {
  const answer = await c.api('POST', '/api/v4/jobs/request', {
    token: null,
    body: { token: runnerToken, info: { name: 'test' } },
  });
  if (answer.status === 204) return null;
  if (answer.status !== 201) throw new Error(`jobs/request answered ${answer.status}: ${answer.text}`);
  return answer.body as TestJobPayload;
}

/** `PUT /jobs/:id` as a runner. */
export function updateJob(
  c: TestCoordinator,
  job: { id: number; token: string },
  body: Record<string, unknown>,
) {
  return c.api('PUT', `/api/v4/jobs/${job.id}`, { token: null, body: { token: job.token, ...body } });
}

/** The value of a payload variable. */
export function variable(job: TestJobPayload, key: string): string | undefined {
  return job.variables.find((v) => v.key === key)?.value;
}
