import type { ComponentContext } from './inputs.js';

/** Reads a file of the repository by its path from the repository root; `undefined` when absent. */
export type ReadLocalFile = (path: string) => Promise<string | undefined>;

/** Lists every file of the repository (paths from its root), for `include:local` wildcards. */
export type ListLocalFiles = () => Promise<readonly string[]>;

/**
 * The paths the pipeline's commit changed against its base (`compare_to`'s merge base, or the
 * pipeline's own base when null), for `rules:changes`; null when there is no base (`changes`
 * then holds, as GitLab).
 */
export type ChangedPaths = (compareTo: string | null) => Promise<readonly string[] | null>;

/**
 * Where the `include:local` entries of one file are read: GitLab's include context, a project at
 * a commit. The main file's context is the pipeline's own repository; a file read with
 * `include:project` or `include:component` brings the context of its own project, so its
 * `include:local` entries name files of that project (as GitLab resolves them).
 */
export interface IncludeContext {
  readonly readLocalFile: ReadLocalFile | undefined;
  readonly listLocalFiles: ListLocalFiles | undefined;
  /** The project's full path, when known (the lint API's `context_project`). */
  readonly project?: string | undefined;
  /** The commit, when known (the lint API's `context_sha`). */
  readonly sha?: string | undefined;
  /** A file fetched with `include:remote`: no project, so no `include:local` (nor artifacts) there. */
  readonly remote?: true | undefined;
  /**
   * Read without the pipeline's user, as GitLab reads what a remote file includes: no variables,
   * and projects and components through {@link IncludeSources.anonymous} (public projects only).
   * A project file read so passes it on to its own includes.
   */
  readonly anonymous?: true | undefined;
}

/** A project of this instance opened at one commit, for `include:project` and `include:component`. */
export interface ProjectSnapshot extends IncludeContext {
  readonly project: string;
  /** The ref as asked for (the default branch when none was). */
  readonly ref: string;
  readonly sha: string;
}

/**
 * A source that cannot give what an include asks for. Its message is shown as it is, so it says
 * what to fix and reveals nothing the pipeline's user may not see (a project they cannot read
 * reads as a missing one).
 */
export class IncludeSourceError extends Error {}

/**
 * What includes from outside the pipeline's own repository read, with the access of the
 * pipeline's user (or the lint caller): projects of this instance and, for a child pipeline,
 * artifacts of its parent pipeline. The coordinator implements it; without it those includes are
 * errors that say where they work.
 */
export interface IncludeSources {
  /**
   * Opens project `project` (full path) at `ref` (a branch, tag or commit SHA; the project's
   * default branch when `null`).
   *
   * @throws IncludeSourceError when the project is missing or unreadable for the user (one
   *   message for both), the ref does not exist, or git fails.
   */
  openProject(project: string, ref: string | null): Promise<ProjectSnapshot>;
  /**
   * The tag names of project `project` (for `~latest` and partial versions of components).
   *
   * @throws IncludeSourceError as {@link openProject}.
   */
  listTags(project: string): Promise<readonly string[]>;
  /** The host (`host` or `host:port`) component addresses of this instance start with. */
  readonly serverHosts: readonly string[];
  /**
   * Reads file `path` of the artifacts of job `job` of the parent pipeline; present only while a
   * child pipeline is created (`trigger:include:artifact`).
   *
   * @throws IncludeSourceError when the job, its artifacts or the file is missing, or too large.
   */
  readonly readArtifact?: ((job: string, path: string) => Promise<string>) | undefined;
  /**
   * The same projects as an anonymous user sees them (public ones only), for the includes of a
   * file fetched with `include:remote`; a project it may not see reads as a missing one. Absent:
   * those includes are errors.
   */
  readonly anonymous?: IncludeSources | undefined;
}

/**
 * The sources an include in `context` reads projects and components from: the anonymous ones in
 * a context read without a user (a remote file's includes), else the user's.
 */
export function sourcesIn(
  context: IncludeContext,
  sources: IncludeSources | undefined,
): IncludeSources | undefined {
  return context.anonymous === true ? sources?.anonymous : sources;
}

/** The context a file read in `context` from `snapshot` gives its own includes: anonymous stays anonymous. */
export function contextOf(snapshot: ProjectSnapshot, context: IncludeContext): ProjectSnapshot {
  return context.anonymous === true ? { ...snapshot, anonymous: true } : snapshot;
}

/** One file an `include` merged in, as the lint API lists it (GitLab's `includes` entries). */
export interface IncludedFile {
  /** GitLab's `type`: `local`, `file` (an `include:project` file), `remote`, `component` or `artifact`. */
  readonly type: 'local' | 'file' | 'remote' | 'component' | 'artifact';
  /** GitLab's `location`: the path, the component address, or the artifact's path. */
  readonly location: string;
  /** Project and commit the file was read from, for its blob and raw links; null: no links. */
  readonly source: { readonly project: string; readonly sha: string; readonly path: string } | null;
  /** GitLab's `extra` (`project` and `ref` of a project file, `job_name` of an artifact). */
  readonly extra: Readonly<Record<string, string>>;
  /** The project and commit of the file that included it (GitLab's `context_project`, `context_sha`). */
  readonly contextProject: string | null;
  readonly contextSha: string | null;
}

/** What reading one include gave: the text, a name for messages, and the context of its includes. */
export interface IncludeRead {
  readonly content: string;
  /** How messages name the file: `ci/build.yml`, or `ci/build.yml of acme/templates at main`. */
  readonly label: string;
  readonly context: IncludeContext;
  readonly record: IncludedFile;
  /** A component's context, for its `$[[ component.* ]]` blocks (absent for other files). */
  readonly component?: ComponentContext | undefined;
}
