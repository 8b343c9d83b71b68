import { TesseraError } from '../errors.js';
import type { JobTokenContext } from './job-token-context.js';

/** A component allowed in `ci_id_token_sub_claim_components` (DESIGN 3.3). */
export type SubClaimComponent =
  | 'project_path'
  | 'project_id'
  | 'ref_type'
  | 'ref'
  | 'ref_protected'
  | 'environment'
  | 'environment_protected'
  | 'deployment_tier'
  | 'pipeline_source';

/** The default components, as GitLab: `project_path:<path>:ref_type:<type>:ref:<ref>`. */
export const DEFAULT_SUB_CLAIM_COMPONENTS: readonly SubClaimComponent[] = Object.freeze([
  'project_path',
  'ref_type',
  'ref',
]);

const FIRST_COMPONENTS = new Set<string>(['project_path', 'project_id']);
const OTHER_COMPONENTS = new Set<string>([
  'ref_type',
  'ref',
  'ref_protected',
  'environment',
  'environment_protected',
  'deployment_tier',
  'pipeline_source',
]);

/**
 * Validates a component list: non-empty, first `project_path` or `project_id`, the others from
 * the allowed set, each at most once.
 *
 * @throws TesseraError `ERR_TOKEN_SUB_COMPONENTS_INVALID` naming the offending element.
 */
export function validateSubClaimComponents(list: unknown): SubClaimComponent[] {
  const invalid = (message: string) =>
    new TesseraError('ERR_TOKEN_SUB_COMPONENTS_INVALID', `ci_id_token_sub_claim_components: ${message}`);
  if (!Array.isArray(list) || list.length === 0) throw invalid('must be a non-empty list');
  if (list.length > 1 + OTHER_COMPONENTS.size) throw invalid('lists too many components');
  const seen = new Set<string>();
  list.forEach((item: unknown, index) => {
    if (typeof item !== 'string') throw invalid(`element ${index} must be a string`);
    const shown = JSON.stringify(item.slice(0, 40));
    if (index === 0 && !FIRST_COMPONENTS.has(item)) {
      throw invalid(`the first element must be project_path or project_id, not ${shown}`);
    }
    if (index > 0 && !OTHER_COMPONENTS.has(item)) {
      throw invalid(`${shown} is not an allowed sub claim component after the first`);
    }
    if (seen.has(item)) throw invalid(`${shown} is listed twice`);
    seen.add(item);
  });
  return list as SubClaimComponent[];
}

/** Writes a value into the `sub`: `:` separates components, so a `:` inside a value becomes `%3A`. */
function escapeValue(value: string): string {
  return value.includes(':') ? value.replaceAll(':', '%3A') : value;
}

function componentValue(component: SubClaimComponent, context: JobTokenContext): string | null {
  switch (component) {
    case 'project_path':
      return context.project.path;
    case 'project_id':
      return String(context.project.id);
    case 'ref_type':
      return context.ref.type;
    case 'ref':
      return context.ref.name;
    case 'ref_protected':
      return String(context.ref.protected);
    case 'environment':
      return context.environment?.name ?? null;
    case 'environment_protected':
      return context.environment ? String(context.environment.protected) : null;
    case 'deployment_tier':
      return context.environment?.tier ?? null;
    case 'pipeline_source':
      return context.pipeline.source;
  }
}

/**
 * Builds the `sub` claim from the project's components (or the default):
 * `<component>:<value>` pairs joined by `:`. Environment components are left out for a job
 * without an environment, as GitLab drops components without a value.
 *
 * @throws TesseraError `ERR_TOKEN_SUB_PATH_BURNED` when the `sub` would start with `project_path`
 *   and the path was once held by another project; `ERR_TOKEN_SUB_COMPONENTS_INVALID` for a bad list.
 */
export function buildSubject(context: JobTokenContext): string {
  const components =
    context.project.subClaimComponents === null
      ? DEFAULT_SUB_CLAIM_COMPONENTS
      : validateSubClaimComponents(context.project.subClaimComponents);
  if (components[0] === 'project_path' && context.project.pathReused) {
    throw new TesseraError(
      'ERR_TOKEN_SUB_PATH_BURNED',
      `ID token issuance is disabled for project ${context.project.id}: its path was once held by another ` +
        'project; set ci_id_token_sub_claim_components to start with project_id',
      { details: { projectId: context.project.id } },
    );
  }
  let sub = '';
  for (const component of components) {
    const value = componentValue(component, context);
    if (value === null) continue;
    sub += `${sub === '' ? '' : ':'}${component}:${escapeValue(value)}`;
  }
  return sub;
}
