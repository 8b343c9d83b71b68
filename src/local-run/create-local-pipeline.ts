import type { Coordinator } from '../coordinator/coordinator.js';
import { createPipeline } from '../coordinator/create-pipeline.js';
import type { ApiPipeline } from './local-api.js';

/**
 * Creates the pipeline of a local run as a push of `ref` by the instance admin: the
 * coordinator's own `createPipeline` (the config read from the repository at the ref's commit,
 * rules, variables, protected refs), with source `push` rather than the API's `api`, because a
 * local run answers "what would CI do with this commit", so `$CI_PIPELINE_SOURCE == "push"`
 * rules and the tokens' `pipeline_source` read as they would after `git push`.
 * `variables` are pipeline variables (`--var`), which outrank the file's and the project's.
 */
export async function createLocalPipeline(
  coordinator: Coordinator,
  input: { projectId: number; ref: string; variables: Readonly<Record<string, string>> },
): Promise<ApiPipeline> {
  const project = await coordinator.repos.projects.findById(input.projectId);
  const user = await coordinator.repos.users.findByUsername('root');
  if (!project || !user) throw new TypeError('the local project or the admin user is missing');
  const pipeline = await createPipeline(coordinator, {
    project,
    user,
    ref: input.ref,
    source: 'push',
    variables: { ...input.variables },
  });
  return {
    id: pipeline.id,
    sha: pipeline.sha,
    ref: pipeline.ref,
    status: pipeline.status,
    warnings: pipeline.warnings,
  };
}
