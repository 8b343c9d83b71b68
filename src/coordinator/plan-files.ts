import { isTesseraError, TesseraError } from '../errors.js';
import { type ChangedPaths, IncludeSourceError, type IncludeSources } from '../pipeline/include-sources.js';
import type { PlanFiles, ReadProjectFiles } from '../pipeline/plan.js';
import type { PipelineSpec, PolicySpec, RuleSpec } from '../pipeline/spec.js';
import type { GitRepositoryReader, ResolvedRef } from './git-repository.js';

const ZERO_SHA = /^0+$/;

/** What the changed paths of a pipeline's commit are worked out from. */
export interface ChangeBase {
  readonly git: GitRepositoryReader;
  readonly repositoryUrl: string;
  readonly cache: string;
  readonly source: string;
  readonly ref: ResolvedRef;
  /** The commit a push moved the branch from (Tessera: the commit's first parent). */
  readonly beforeSha: string | undefined;
}

/**
 * The changed paths of one pipeline's commit, each base worked out with git once. The pipeline's
 * own base follows GitLab: only a push to an existing branch has one (its before-sha); tag, web,
 * API, schedule and trigger pipelines and a branch's first push have none, so `changes` is true
 * there. `compare_to` diffs the merge base of that ref and the commit.
 *
 * @throws TesseraError `ERR_PIPELINE_INVALID` (from the function) when a `compare_to` names no
 *   branch or tag.
 */
export function changedPathsOf(base: ChangeBase): ChangedPaths {
  const known = new Map<string, Promise<readonly string[] | null>>();
  const read = async (compareTo: string | null): Promise<readonly string[] | null> => {
    if (compareTo === null) {
      const before = base.beforeSha;
      const pushed =
        base.source === 'push' &&
        base.ref.type === 'branch' &&
        before !== undefined &&
        !ZERO_SHA.test(before);
      return pushed ? base.git.changedPaths(base.cache, before, base.ref.sha) : null;
    }
    let target: ResolvedRef;
    try {
      target = await base.git.resolveRef(base.repositoryUrl, compareTo);
    } catch (error) {
      if (!isTesseraError(error) || error.code !== 'ERR_GIT_REF_NOT_FOUND') throw error;
      const message = `compare_to "${compareTo}" is not a branch or tag of the repository`;
      throw new TesseraError('ERR_PIPELINE_INVALID', message, {
        details: { errors: [{ path: 'rules:changes:compare_to', message, line: null }], warnings: [] },
      });
    }
    await base.git.fetch(base.repositoryUrl, target);
    const mergeBase = await base.git.mergeBase(base.cache, target.sha, base.ref.sha);
    return mergeBase === null ? null : base.git.changedPaths(base.cache, mergeBase, base.ref.sha);
  };
  return (compareTo) => {
    const key = compareTo ?? '';
    let paths = known.get(key);
    if (paths === undefined) {
      paths = read(compareTo);
      known.set(key, paths);
    }
    return paths;
  };
}

/** What {@link planFilesFor} needs to know about the pipeline. */
export interface PlanFilesInput {
  readonly git: GitRepositoryReader;
  readonly cache: string;
  readonly ref: ResolvedRef;
  readonly spec: PipelineSpec;
  /** The pipeline's changed paths (see {@link changedPathsOf}). */
  readonly changedPaths: ChangedPaths;
}

/**
 * Works out, with git, what the file clauses of a configuration compare against, and nothing when
 * it has none (see {@link changedPathsOf} for the bases).
 *
 * @throws TesseraError `ERR_PIPELINE_INVALID` when a `compare_to` names no branch or tag.
 */
export async function planFilesFor(input: PlanFilesInput): Promise<PlanFiles> {
  const used = fileClausesOf(input.spec);
  const changedPaths = new Map<string, readonly string[] | null>();
  if (used.defaultChanges) changedPaths.set('', await input.changedPaths(null));
  for (const compareTo of used.compareTo) changedPaths.set(compareTo, await input.changedPaths(compareTo));
  const repositoryPaths = used.exists ? await input.git.listFiles(input.cache, input.ref.sha) : null;
  return { changedPaths, repositoryPaths };
}

/** Which file clauses a configuration uses: plain `changes`, the `compare_to` refs, `exists` of its own project. */
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
      // exists:project reads its own project's files when the rule is reached (projectFilesReader).
      if (rule.exists != null && rule.exists.project == null) used.exists = true;
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

/**
 * Reads the files of other projects for `rules:exists:project` through `sources` (the pipeline
 * user's, or the lint caller's): exactly as `include:project` opens a project, so a project the
 * user may not read answers as a missing one, and each (project, ref) is opened and listed once
 * per configuration, shared with the includes read through the same sources.
 */
export function projectFilesReader(sources: IncludeSources): ReadProjectFiles {
  return async (project, ref) => {
    const snapshot = await sources.openProject(project, ref);
    try {
      return snapshot.listLocalFiles === undefined ? [] : await snapshot.listLocalFiles();
    } catch (error) {
      if (!isTesseraError(error)) throw error;
      // git's own words may name the coordinator's cache directory: say what failed, not where.
      throw new IncludeSourceError(`cannot list the files of project "${project}" at "${snapshot.ref}"`);
    }
  };
}
