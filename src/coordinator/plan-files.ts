import { isTesseraError, TesseraError } from '../errors.js';
import type { PlanFiles } from '../pipeline/plan.js';
import type { PipelineSpec, PolicySpec, RuleSpec } from '../pipeline/spec.js';
import type { GitRepositoryReader, ResolvedRef } from './git-repository.js';

const ZERO_SHA = /^0+$/;

/** What {@link planFilesFor} needs to know about the pipeline. */
export interface PlanFilesInput {
  readonly git: GitRepositoryReader;
  readonly repositoryUrl: string;
  readonly cache: string;
  readonly spec: PipelineSpec;
  readonly source: string;
  readonly ref: ResolvedRef;
  /** The commit a push moved the branch from (Tessera: the commit's first parent). */
  readonly beforeSha: string | undefined;
}

/**
 * Works out, with git, what the file clauses of a configuration compare against, and nothing when
 * it has none. The pipeline's own base follows GitLab: only a push to an existing branch has one
 * (its before-sha); tag, web, API, schedule and trigger pipelines and a branch's first push have
 * none, so `changes` is true there. `compare_to` diffs the merge base of that ref and the commit.
 *
 * @throws TesseraError `ERR_PIPELINE_INVALID` when a `compare_to` names no branch or tag.
 */
export async function planFilesFor(input: PlanFilesInput): Promise<PlanFiles> {
  const used = fileClausesOf(input.spec);
  const changedPaths = new Map<string, readonly string[] | null>();
  if (used.defaultChanges) {
    const base = input.beforeSha;
    const pushed =
      input.source === 'push' && input.ref.type === 'branch' && base !== undefined && !ZERO_SHA.test(base);
    changedPaths.set('', pushed ? await input.git.changedPaths(input.cache, base, input.ref.sha) : null);
  }
  for (const compareTo of used.compareTo) {
    let target: ResolvedRef;
    try {
      target = await input.git.resolveRef(input.repositoryUrl, compareTo);
    } catch (error) {
      if (!isTesseraError(error) || error.code !== 'ERR_GIT_REF_NOT_FOUND') throw error;
      const message = `compare_to "${compareTo}" is not a branch or tag of the repository`;
      throw new TesseraError('ERR_PIPELINE_INVALID', message, {
        details: { errors: [{ path: 'rules:changes:compare_to', message, line: null }], warnings: [] },
      });
    }
    await input.git.fetch(input.repositoryUrl, target);
    const base = await input.git.mergeBase(input.cache, target.sha, input.ref.sha);
    changedPaths.set(
      compareTo,
      base === null ? null : await input.git.changedPaths(input.cache, base, input.ref.sha),
    );
  }
  const repositoryPaths = used.exists ? await input.git.listFiles(input.cache, input.ref.sha) : null;
  return { changedPaths, repositoryPaths };
}

/** Which file clauses a configuration uses: plain `changes`, the `compare_to` refs, `exists`. */
export function fileClausesOf(spec: PipelineSpec): {
  defaultChanges: boolean;
  compareTo: Set<string>;
  exists: boolean;
} {
  const used = { defaultChanges: false, compareTo: new Set<string>(), exists: false };
  const visitRules = (rules: readonly RuleSpec[] | null): void => {
    for (const rule of rules ?? []) {
      if (rule.changes != null) {
        if (rule.changes.compareTo === null) used.defaultChanges = true;
        else used.compareTo.add(rule.changes.compareTo);
      }
      if (rule.exists != null) used.exists = true;
    }
  };
  const visitPolicy = (policy: PolicySpec | null): void => {
    if (policy?.changes == null) return;
    if (policy.changes.compareTo === null) used.defaultChanges = true;
    else used.compareTo.add(policy.changes.compareTo);
  };
  visitRules(spec.workflowRules);
  for (const job of spec.jobs) {
    visitRules(job.rules);
    visitPolicy(job.only);
    visitPolicy(job.except);
  }
  return used;
}
