import { headerSpec, parseConfigFile } from './config-file.js';
import { ProblemList } from './config-problem.js';
import type { ReadLocalFile } from './include.js';
import { type InputDefinition, readInputDefinitions, resolveInputValues } from './inputs.js';
import { pipelineInputsNode } from './pipeline-inputs.js';
import type { PipelineSpec } from './spec.js';

/** Child files read to check inputs, at most, per configuration: the check must stay cheap. */
const MAX_CHILD_FILES_CHECKED = 20;

/**
 * Checks each child pipeline's `trigger:include:inputs` against the `spec:inputs` of the child's
 * local files (of the same commit), so that lint and the pipeline's warnings say before the bridge runs
 * what will fail it. Warnings, not errors: as GitLab, the child's configuration is read when its
 * bridge runs, and only that bridge fails.
 */
export async function warnAboutChildInputs(
  spec: PipelineSpec,
  readLocalFile: ReadLocalFile,
  problems: ProblemList,
): Promise<void> {
  const headers = new Map<string, Map<string, InputDefinition> | null>();
  for (const job of spec.jobs) {
    const trigger = job.trigger;
    if (trigger?.include == null) continue;
    for (const [index, entry] of trigger.include.entries()) {
      // Files of this commit only: other projects, artifacts and components are read when the bridge runs.
      const file = typeof entry === 'string' ? entry : 'local' in entry ? entry.local : null;
      if (file === null) continue;
      if (!headers.has(file)) {
        if (headers.size >= MAX_CHILD_FILES_CHECKED) return;
        headers.set(file, await inputDefinitions(file, readLocalFile));
      }
      const definitions = headers.get(file);
      if (definitions == null) continue;
      const given = typeof entry === 'string' ? null : (entry.inputs ?? null);
      const path = `jobs.${job.name}.trigger.include[${index}].inputs`;
      const found = new ProblemList(spec.file);
      const node = given === null ? null : pipelineInputsNode(given, definitions, file);
      if (node !== null && 'error' in node) found.error(`${path}.${node.name}`, node.error, null);
      else resolveInputValues(definitions, node, path, { line: job.line }, found);
      for (const problem of found.errors) {
        problems.warn(problem.path, `the child pipeline of ${file} will not be created: ${problem.message}`, {
          line: job.line,
        });
      }
    }
  }
}

/** The `spec:inputs` of a child file; `null` when it cannot be read or has no usable header. */
async function inputDefinitions(
  file: string,
  readLocalFile: ReadLocalFile,
): Promise<Map<string, InputDefinition> | null> {
  const content = await readLocalFile(file).catch(() => undefined);
  if (content === undefined) return null;
  const scratch = new ProblemList(file);
  const read = parseConfigFile(content, file, scratch, { expandedNodes: 0, aliasBytes: 0 });
  if (read.header === null) return null;
  const spec = headerSpec(read.header, scratch);
  return spec === null ? null : readInputDefinitions(spec, scratch);
}
