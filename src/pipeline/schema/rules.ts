import type { ProblemList } from '../config-problem.js';
import { parseDuration } from '../duration.js';
import type { Expression } from '../expression/ast.js';
import { compilePattern, splitPatternLiteral } from '../expression/compile-pattern.js';
import { parseExpression } from '../expression/parse.js';
import type { JobWhen, PolicySpec, RefPolicy, RuleSpec, RuleWhen } from '../spec.js';
import { describeNode, keyPosition, type TreeNode } from '../yaml-tree.js';
import { readAllowFailure } from './allow-failure.js';
import { readAutoCancel } from './auto-cancel.js';
import { readChanges, readExists } from './file-conditions.js';
import { readNeeds } from './job.js';
import { checkKeys, readBoolean, readString, readVariables } from './read-value.js';

/** The keywords of a job's rule. */
export const JOB_RULE_KEYS = new Set([
  'if',
  'when',
  'allow_failure',
  'variables',
  'changes',
  'exists',
  'needs',
  'start_in',
  'interruptible',
]);
/** The keywords of a `workflow:rules` rule. */
export const WORKFLOW_RULE_KEYS = new Set(['if', 'when', 'variables', 'changes', 'exists', 'auto_cancel']);
const JOB_RULE_WHEN: readonly RuleWhen[] = [
  'on_success',
  'on_failure',
  'always',
  'manual',
  'delayed',
  'never',
];

/** Parses one `if:` text, recording the reason when it is not a valid expression. */
export function readExpression(node: TreeNode, path: string, problems: ProblemList): Expression | null {
  const text = readString(node, path, problems, 'an expression such as $CI_COMMIT_BRANCH == "main"');
  if (text === null) return null;
  const parsed = parseExpression(text);
  if (parsed.ok) return parsed.expression;
  problems.error(path, `invalid expression: ${parsed.message}`, node);
  return null;
}

/**
 * Reads `rules` (of a job) or `workflow:rules`: a list of `{ if, when, allow_failure, variables, … }`.
 * Workflow rules take only `when: always` or `never`, and `auto_cancel`; job rules `interruptible`. Answers `null` when the node is not a list.
 */
export function readRules(
  node: TreeNode,
  path: string,
  problems: ProblemList,
  options: { workflow: boolean },
): RuleSpec[] | null {
  if (node.kind !== 'seq') {
    problems.error(path, `must be a list of rules (- if: …), not ${describeNode(node)}`, node);
    return null;
  }
  if (node.items.length === 0 && !options.workflow) {
    // GitLab refuses an empty rules list ("can't be blank") rather than running the job always.
    problems.error(path, 'must list at least one rule; remove rules: to run the job on every pipeline', node);
    return null;
  }
  const rules: RuleSpec[] = [];
  node.items.forEach((item, index) => {
    const where = `${path}[${index}]`;
    if (item.kind !== 'map') {
      problems.error(
        where,
        `must be a rule such as { if: $CI_COMMIT_TAG, when: never }, not ${describeNode(item)}`,
        item,
      );
      return;
    }
    checkKeys(item, where, options.workflow ? WORKFLOW_RULE_KEYS : JOB_RULE_KEYS, problems);
    const ifNode = item.entries.get('if');
    const expression = ifNode === undefined ? null : readExpression(ifNode, `${where}.if`, problems);
    let when: RuleWhen | null = null;
    const whenNode = item.entries.get('when');
    if (whenNode !== undefined) {
      const allowed: readonly string[] = options.workflow ? ['always', 'never'] : JOB_RULE_WHEN;
      const text = readString(whenNode, `${where}.when`, problems);
      if (text !== null && allowed.includes(text)) when = text as RuleWhen;
      else if (text !== null) {
        problems.error(`${where}.when`, `must be one of ${allowed.join(', ')}, not "${text}"`, whenNode);
      }
    }
    const failure = item.entries.get('allow_failure');
    const allowFailure =
      failure === undefined ? null : readAllowFailure(failure, `${where}.allow_failure`, problems);
    const variablesNode = item.entries.get('variables');
    const startInNode = item.entries.get('start_in');
    const startInSeconds =
      startInNode === undefined ? null : readStartIn(startInNode, `${where}.start_in`, problems);
    if (when === 'delayed' && startInNode === undefined)
      problems.error(`${where}.start_in`, 'is required with when: delayed: write start_in: 30 minutes', item);
    if (when !== 'delayed' && startInNode !== undefined)
      problems.error(`${where}.start_in`, 'goes with when: delayed only', startInNode);
    const changesNode = item.entries.get('changes');
    const existsNode = item.entries.get('exists');
    const needsNode = item.entries.get('needs');
    const interruptibleNode = options.workflow ? undefined : item.entries.get('interruptible');
    const interruptible =
      interruptibleNode === undefined
        ? null
        : readBoolean(interruptibleNode, `${where}.interruptible`, problems);
    const autoCancelNode = options.workflow ? item.entries.get('auto_cancel') : undefined;
    const autoCancel =
      autoCancelNode === undefined
        ? undefined
        : readAutoCancel(autoCancelNode, `${where}.auto_cancel`, problems);
    rules.push({
      ...(interruptible === null ? {} : { interruptible }),
      ...(autoCancel === undefined ? {} : { autoCancel }),
      ...(startInSeconds === null ? {} : { startInSeconds }),
      changes: changesNode === undefined ? null : readChanges(changesNode, `${where}.changes`, problems),
      exists: existsNode === undefined ? null : readExists(existsNode, `${where}.exists`, problems),
      needs: needsNode === undefined ? null : readNeeds(needsNode, `${where}.needs`, problems),
      if: expression,
      ifSource: ifNode?.kind === 'scalar' && typeof ifNode.value === 'string' ? ifNode.value : null,
      when,
      allowFailure: allowFailure?.allowFailure ?? null,
      allowFailureExitCodes: allowFailure?.exitCodes ?? null,
      variables:
        variablesNode === undefined ? {} : readVariables(variablesNode, `${where}.variables`, problems),
    });
  });
  return rules;
}

const REF_KEYWORDS = new Set([
  'branches',
  'tags',
  'api',
  'external',
  'pipelines',
  'pushes',
  'schedules',
  'triggers',
  'web',
  'merge_requests',
  'chat',
  'chats',
  'external_pull_requests',
]);

/**
 * Reads `only` or `except`: a list of refs (names, `/patterns/`, keywords such as `branches`,
 * `tags`, `schedules`), or `{ refs, variables }`. `changes` and `kubernetes` are refused.
 */
export function readPolicy(node: TreeNode, path: string, problems: ProblemList): PolicySpec | null {
  if (node.kind === 'scalar' && typeof node.value === 'string') {
    const ref = readRef(node, path, problems);
    return { refs: ref === null ? [] : [ref], variables: null };
  }
  if (node.kind === 'seq') return { refs: readRefs(node.items, path, problems), variables: null };
  if (node.kind !== 'map') {
    problems.error(path, `must be a list of refs or { refs, variables }, not ${describeNode(node)}`, node);
    return null;
  }
  checkKeys(node, path, new Set(['refs', 'variables', 'changes']), problems, new Set(['kubernetes']));
  const changesNode = node.entries.get('changes');
  const changes = changesNode === undefined ? null : readChanges(changesNode, `${path}.changes`, problems);
  let refs: RefPolicy[] | null = null;
  const refsNode = node.entries.get('refs');
  if (refsNode !== undefined) {
    if (refsNode.kind === 'seq') refs = readRefs(refsNode.items, `${path}.refs`, problems);
    else {
      const ref = readRef(refsNode, `${path}.refs`, problems);
      refs = ref === null ? [] : [ref];
    }
  }
  let variables: Expression[] | null = null;
  const variablesNode = node.entries.get('variables');
  if (variablesNode !== undefined) {
    const at = keyPosition(node, 'variables');
    const items = variablesNode.kind === 'seq' ? variablesNode.items : [variablesNode];
    variables = [];
    items.forEach((item, index) => {
      const expression = readExpression(
        item,
        variablesNode.kind === 'seq' ? `${path}.variables[${index}]` : `${path}.variables`,
        problems,
      );
      if (expression !== null) variables?.push(expression);
    });
    if (items.length === 0) problems.error(`${path}.variables`, 'must list at least one expression', at);
  }
  return { refs, variables, changes };
}

function readRefs(items: readonly TreeNode[], path: string, problems: ProblemList): RefPolicy[] {
  const refs: RefPolicy[] = [];
  items.forEach((item, index) => {
    const ref = readRef(item, `${path}[${index}]`, problems);
    if (ref !== null) refs.push(ref);
  });
  return refs;
}

function readRef(node: TreeNode, path: string, problems: ProblemList): RefPolicy | null {
  const text = readString(node, path, problems, 'a ref name, a /pattern/ or a keyword such as branches');
  if (text === null) return null;
  const literal = splitPatternLiteral(text);
  if (literal !== null) {
    const pattern = compilePattern(literal.source, literal.flags);
    if ('error' in pattern) {
      problems.error(path, pattern.error, node);
      return null;
    }
    return { kind: 'pattern', pattern };
  }
  if (REF_KEYWORDS.has(text)) return { kind: 'keyword', keyword: text === 'chats' ? 'chat' : text };
  return { kind: 'name', name: text };
}

/** Whether a job-level `when` text is valid there (`never` belongs in rules). */
export function readJobWhen(node: TreeNode, path: string, problems: ProblemList): JobWhen | null {
  const text = readString(node, path, problems);
  if (text === null) return null;
  if (
    text === 'on_success' ||
    text === 'on_failure' ||
    text === 'always' ||
    text === 'manual' ||
    text === 'delayed'
  )
    return text;
  if (text === 'never') {
    problems.error(
      path,
      'when: never is only allowed in rules; write rules: [{ when: never }] to disable the job',
      node,
    );
  } else {
    problems.error(path, `must be on_success, on_failure, always, manual or delayed, not "${text}"`, node);
  }
  return null;
}

/** GitLab's bound on `start_in`: one week. */
const MAX_START_IN_SECONDS = 7 * 24 * 3600;

/** `start_in` of a delayed job or rule: a duration from 1 second to 1 week, as GitLab. */
export function readStartIn(node: TreeNode, path: string, problems: ProblemList): number | null {
  const seconds =
    node.kind === 'scalar' && (typeof node.value === 'string' || typeof node.value === 'number')
      ? parseDuration(node.value)
      : null;
  if (seconds === null || seconds < 1 || seconds > MAX_START_IN_SECONDS) {
    problems.error(path, 'must be a duration from 1 second to 1 week, such as "30 minutes"', node);
    return null;
  }
  return seconds;
}
