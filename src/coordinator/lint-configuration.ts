import { stringify } from 'yaml';
import { isTesseraError } from '../errors.js';
import type { ConfigProblem } from '../pipeline/config-problem.js';
import type { IncludedFile } from '../pipeline/include-sources.js';
import { loadPipeline } from '../pipeline/load.js';
import { planPipelineReading } from '../pipeline/plan.js';
import { buildRuleVariables } from '../pipeline/rule-variables.js';
import type { JobSpec, PolicySpec } from '../pipeline/spec.js';
import type { ProjectRecord } from '../store/repositories/projects.js';
import type { UserRecord } from '../store/repositories/users.js';
import type { Coordinator } from './coordinator.js';
import { gitReader, projectVariablesFor, variablesForIncludes } from './create-pipeline.js';
import { createRemoteIncludeFetcher } from './fetch-remote-include.js';
import { includeSourcesFor } from './include-sources.js';
import { changedPathsOf, planFilesFor, projectFilesReader } from './plan-files.js';
import { refProtection } from './protected-ref.js';

/** Input of {@link lintConfiguration}. */
export interface LintInput {
  readonly project: ProjectRecord;
  /** Who asks: `include:project` and `include:component` read what this user may read. */
  readonly user: UserRecord;
  /** The configuration to check; absent: the project's own file at `ref`. */
  readonly content?: string | undefined;
  /** Branch or tag whose files resolve `include:local` (and whose config is read without `content`). */
  readonly ref?: string | undefined;
  /** Plan the pipeline `ref` would get (rules evaluated), as GitLab's `dry_run`. */
  readonly dryRun: boolean;
  readonly includeJobs: boolean;
}

/** One job as GitLab's lint API lists it. */
export interface LintJob {
  name: string;
  stage: string;
  before_script: readonly string[];
  script: readonly string[];
  after_script: readonly string[];
  tag_list: readonly string[];
  only: { refs: string[] } | null;
  except: { refs: string[] } | null;
  environment: string | null;
  when: string;
  allow_failure: boolean;
  needs: { name: string }[] | null;
}

/** One included file as GitLab's lint API lists it (`type`: `local`, `file`, `component`, `artifact`). */
export interface LintInclude {
  type: IncludedFile['type'];
  location: string;
  blob: string | null;
  raw: string | null;
  extra: Readonly<Record<string, string>>;
  context_project: string | null;
  context_sha: string | null;
}

/** GitLab's lint answer. */
export interface LintResult {
  valid: boolean;
  errors: string[];
  warnings: string[];
  merged_yaml: string | null;
  includes: LintInclude[];
  jobs?: LintJob[];
}

/**
 * Checks a configuration as `POST`/`GET /projects/:id/ci/lint` do: in the project's repository at
 * `ref` (default branch by default), so includes resolve; with `dryRun`, the pipeline that ref
 * would get for a push (rules, project variables, `changes`/`exists`). Errors and warnings are
 * `path: message (line N)` strings. Never throws for a bad configuration.
 *
 * @throws TesseraError `ERR_GIT_REF_NOT_FOUND` when `ref` is not a branch or tag, `ERR_GIT_*` on git failures.
 */
export async function lintConfiguration(coordinator: Coordinator, input: LintInput): Promise<LintResult> {
  const { project } = input;
  const git = gitReader(coordinator);
  const ref = await git.resolveRef(project.repositoryUrl, input.ref ?? project.defaultBranch);
  const cache = await git.fetch(project.repositoryUrl, ref);
  const { content: stored, commit } = await git.readCommitAndFile(cache, ref.sha, project.ciConfigPath);
  const content = input.content ?? stored;
  const result: LintResult = { valid: false, errors: [], warnings: [], merged_yaml: null, includes: [] };
  if (content === undefined) {
    result.errors.push(`${project.ciConfigPath}: the ${ref.type} "${ref.name}" has no such file`);
    return result;
  }
  const protection = await refProtection(coordinator.store.db, project.id, ref.type, ref.name);
  const ruleVariables = buildRuleVariables({
    ref: ref.name,
    tag: ref.type === 'tag',
    source: 'push',
    defaultBranch: project.defaultBranch,
    refProtected: protection.protected,
    projectPath: project.pathWithNamespace,
    projectId: String(project.id),
    projectVisibility: project.visibility as 'private' | 'internal' | 'public',
    serverUrl: coordinator.urls.serverUrl,
    sha: ref.sha,
    beforeSha: commit.beforeSha,
    commitMessage: commit.message,
    commitAuthor: commit.author,
    configPath: project.ciConfigPath,
  });
  const projectVariables = await projectVariablesFor(coordinator.store.db, project.id, protection.protected);
  try {
    // A dry run plans a push of the ref; without one, rules:changes has no base and holds.
    const changedPaths = input.dryRun
      ? changedPathsOf({
          git,
          repositoryUrl: project.repositoryUrl,
          cache,
          source: 'push',
          ref,
          beforeSha: commit.beforeSha,
        })
      : undefined;
    // The caller's access, for include:project and rules:exists:project alike.
    const includeSources = includeSourcesFor(coordinator, input.user);
    const loaded = await loadPipeline({
      content,
      file: project.ciConfigPath,
      ...(changedPaths === undefined ? {} : { changedPaths }),
      readLocalFile: (path) => git.readFile(cache, ref.sha, path),
      listLocalFiles: () => git.listFiles(cache, ref.sha),
      fetchRemoteFile: createRemoteIncludeFetcher(coordinator.config),
      variables: variablesForIncludes(ruleVariables, projectVariables),
      includeSources,
      project: project.pathWithNamespace,
      sha: ref.sha,
    });
    result.valid = true;
    result.warnings = loaded.warnings.map(problemText);
    result.merged_yaml = stringify(loaded.merged, { aliasDuplicateObjects: false });
    result.includes = loaded.includes.map((included) => lintInclude(coordinator.urls.serverUrl, included));
    if (input.dryRun) {
      const files = await planFilesFor({
        git,
        cache,
        ref,
        spec: loaded.spec,
        changedPaths: changedPaths ?? (async () => null),
      });
      const plan = await planPipelineReading(
        loaded.spec,
        {
          ...ruleVariables,
          ...Object.fromEntries(projectVariables.map((variable) => [variable.key, variable.value])),
        },
        files,
        projectFilesReader(includeSources),
      );
      if (input.includeJobs) {
        result.jobs = plan.jobs.map((job) => {
          const spec = loaded.spec.jobs.find((candidate) => candidate.name === job.name);
          return {
            ...lintJob(spec ?? null, job.name),
            when: job.when,
            allow_failure: job.allowFailure,
            needs: job.needs === null ? null : job.needs.map((name) => ({ name })),
          };
        });
      }
    } else if (input.includeJobs) {
      result.jobs = loaded.spec.jobs.map((job) => lintJob(job, job.name));
    }
  } catch (error) {
    if (!isTesseraError(error) || error.code !== 'ERR_PIPELINE_INVALID') throw error;
    const details = (error.details ?? {}) as { errors?: ConfigProblem[]; warnings?: ConfigProblem[] };
    result.valid = false;
    result.errors = (
      details.errors ?? [{ path: project.ciConfigPath, message: error.message, line: null }]
    ).map(problemText);
    result.warnings = (details.warnings ?? []).map(problemText);
    if (input.includeJobs) result.jobs = [];
  }
  return result;
}

function lintInclude(serverUrl: string, included: IncludedFile): LintInclude {
  const { source } = included;
  const link = (kind: 'blob' | 'raw') =>
    source === null ? null : `${serverUrl}/${source.project}/-/${kind}/${source.sha}/${source.path}`;
  return {
    type: included.type,
    location: included.location,
    blob: link('blob'),
    // GitLab gives a component no raw link; a remote file's is its URL.
    raw: included.type === 'component' ? null : included.type === 'remote' ? included.location : link('raw'),
    extra: included.extra,
    context_project: included.contextProject,
    context_sha: included.contextSha,
  };
}

function problemText(problem: ConfigProblem): string {
  return `${problem.path}: ${problem.message}${problem.line === null ? '' : ` (line ${problem.line})`}`;
}

function lintJob(job: JobSpec | null, name: string): LintJob {
  return {
    name,
    stage: job?.stage ?? 'test',
    before_script: job?.beforeScript ?? [],
    script: job?.script ?? [],
    after_script: job?.afterScript ?? [],
    tag_list: job?.tags ?? [],
    only: policyText(job?.only ?? null),
    except: policyText(job?.except ?? null),
    environment: job?.environment?.name ?? null,
    when: job?.when ?? 'on_success',
    allow_failure: job?.allowFailure ?? false,
    needs: job?.needs == null ? null : job.needs.map((need) => ({ name: need.job })),
  };
}

function policyText(policy: PolicySpec | null): { refs: string[] } | null {
  if (policy === null || policy.refs === null) return null;
  return {
    refs: policy.refs.map((ref) =>
      ref.kind === 'keyword'
        ? ref.keyword
        : ref.kind === 'name'
          ? ref.name
          : `/${ref.pattern.source}/${ref.pattern.flags}`,
    ),
  };
}
