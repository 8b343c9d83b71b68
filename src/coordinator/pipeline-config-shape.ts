import { ProblemList } from '../pipeline/config-problem.js';
import { parseYaml } from '../pipeline/parse.js';
import { isTopLevelKeyword } from '../pipeline/reference.js';

/** Keys of which one is enough to make a mapping a job or a template. */
const JOB_KEYWORDS = new Set(['script', 'extends', 'trigger', 'stage', 'needs', 'rules']);

/**
 * Whether `content` is meant as a pipeline configuration: YAML whose top level is a mapping with a
 * top-level keyword (`stages`, `include`, …), a hidden template (`.base`), or a job (a mapping with
 * `script`, `extends`, `trigger`, `stage`, `needs` or `rules`). A YAML syntax error counts as meant
 * (its message quotes no content). Anything else (a JSON settings file, a list, a key file) is not:
 * the errors of loading it would name its keys, so a `ci_config_path` pointed at it is answered as
 * a missing file is, and reveals nothing of what the file holds.
 */
export function isMeantAsPipeline(content: string, file: string): boolean {
  const root = parseYaml(content, file, new ProblemList(file), { expandedNodes: 0, aliasBytes: 0 });
  if (root === null) return true;
  if (root.kind !== 'map') return false;
  for (const [key, value] of root.entries) {
    if (isTopLevelKeyword(key) || key.startsWith('.')) return true;
    if (value.kind === 'map' && [...value.entries.keys()].some((name) => JOB_KEYWORDS.has(name))) return true;
  }
  return false;
}
