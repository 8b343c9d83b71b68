import type { Coordinator } from '../coordinator/coordinator.js';
import { createPipeline } from '../coordinator/create-pipeline.js';
import type { ResolvedRef } from '../coordinator/git-repository.js';
import type { PipelineRecord } from '../store/repositories/pipelines.js';
import type { LocalProject } from './register-project.js';

/**
 * Creates the pipeline of a local run as a push of `ref` by the instance admin: the
 * coordinator's own `createPipeline` (the config read from the repository at the ref's commit,
 * rules, variables, protected refs), with source `push` rather than the API's `api`, because a
 * local run answers "what would CI do with this commit", so `$CI_PIPELINE_SOURCE == "push"`
 * rules and the tokens' `pipeline_source` read as they would after `git push`.
 * `variables` are pipeline variables (`--var`), which outrank the file's and the project's;
 * `resolvedRef` is the ref as the working copy resolved it (see `createPipeline`).
 */
export function createLocalPipeline(
  coordinator: Coordinator,
  local: LocalProject,
  input: { ref: string; variables: Readonly<Record<string, string>>; resolvedRef?: ResolvedRef },
): Promise<PipelineRecord> {
  return createPipeline(coordinator, {
    project: local.project,
    user: local.user,
    ref: input.ref,
    source: 'push',
    variables: { ...input.variables },
    ...(input.resolvedRef ? { resolvedRef: input.resolvedRef } : {}),
  });
}
