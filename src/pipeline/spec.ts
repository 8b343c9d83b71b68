import type { CompiledPattern, Expression } from './expression/ast.js';
import type { TriggerSpec } from './schema/trigger.js';

/** `when` of a job or rule. `never` only in rules (as GitLab). */
export type JobWhen = 'on_success' | 'on_failure' | 'always' | 'manual' | 'delayed';

/** `when` of a rule: a job `when`, or `never` to leave the job out. */
export type RuleWhen = JobWhen | 'never';

/** One entry of `rules` or `workflow:rules`. */
export interface RuleSpec {
  /** The parsed `if:`, or `null` for a rule without `if` (always matches). */
  readonly if: Expression | null;
  /** `if:` as written, for listings. */
  readonly ifSource: string | null;
  /** `when:` of the rule; `null` inherits the job's `when` (or `on_success`). */
  readonly when: RuleWhen | null;
  readonly allowFailure: boolean | null;
  readonly allowFailureExitCodes: readonly number[] | null;
  readonly variables: Readonly<Record<string, string>>;
  /** `start_in:` of a `when: delayed` rule, in seconds (absent when not written). */
  readonly startInSeconds?: number | null;
  /** `changes:` of the rule; `null` (or absent) when not written. */
  readonly changes?: ChangesSpec | null;
  /** `exists:` of the rule; `null` (or absent) when not written. */
  readonly exists?: ExistsSpec | null;
  /** `needs:` of the rule, which replace the job's when the rule matches; `null` when not written. */
  readonly needs?: readonly NeedSpec[] | null;
  /** `interruptible:` of a job's rule, which replaces the job's when the rule matches (absent: not written). */
  readonly interruptible?: boolean;
  /**
   * `auto_cancel:` of a workflow rule: what it writes replaces that part of `workflow:auto_cancel`
   * for the pipeline the rule lets through (absent: not written).
   */
  readonly autoCancel?: Partial<AutoCancelSpec>;
}

/** `changes:` as globs (variables expanded when the pipeline is planned) and an optional base ref. */
export interface ChangesSpec {
  readonly paths: readonly string[];
  /** `compare_to:`, or `null` for the pipeline's own base (a push's before-sha). */
  readonly compareTo: string | null;
}

/**
 * `rules:exists:` as globs over the files of the pipeline's commit or, with `project`, of another
 * project at `ref` (GitLab 17.0). `project` and `ref` are as written: their variables are expanded
 * when the rule is evaluated.
 */
export interface ExistsSpec {
  readonly paths: readonly string[];
  /** `exists:project`: the full path of the project to look in; absent or `null`: the pipeline's own. */
  readonly project?: string | null;
  /** `exists:ref`: a branch, tag or commit of `project`; absent or `null`: its default branch. */
  readonly ref?: string | null;
  /** Where `project` is written (its YAML path, line and file), for the errors of reading it. */
  readonly at?: { readonly path: string; readonly line: number | null; readonly file?: string | undefined };
}

/** One `only`/`except` ref entry: a keyword (`branches`, `tags`, `schedules`, …), a name or a pattern. */
export type RefPolicy =
  | { readonly kind: 'keyword'; readonly keyword: string }
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'pattern'; readonly pattern: CompiledPattern };

/** `only` or `except`: lists of refs and of variable expressions (`null` when not given). */
export interface PolicySpec {
  readonly refs: readonly RefPolicy[] | null;
  readonly variables: readonly Expression[] | null;
  /** `changes:`; `null` (or absent) when not given. */
  readonly changes?: ChangesSpec | null;
}

/** One `needs` entry. */
export interface NeedSpec {
  readonly job: string;
  readonly optional: boolean;
  /** `artifacts: false` in the need: the job waits for it but does not download its artifacts. */
  readonly artifacts: boolean;
  readonly line: number | null;
}

/**
 * One `needs` entry naming a job outside this pipeline, for its artifacts: `needs:project`
 * (`{ project, job, ref }`: the latest successful job of that name on that ref of that project)
 * or `needs:pipeline` (`{ pipeline, job }`: the job of that name in that pipeline, by id).
 * Values as written (variables are expanded when the pipeline is planned).
 */
export interface CrossNeedSpec {
  readonly source: 'project' | 'pipeline';
  /** The project's full path, or the pipeline's id (`$PARENT_PIPELINE_ID`). */
  readonly from: string;
  readonly job: string;
  /** `ref:` of `needs:project`; `null` for `needs:pipeline`. */
  readonly ref: string | null;
  readonly artifacts: boolean;
  readonly line: number | null;
}

/** An `id_tokens` entry; `aud` stays as written (variables are expanded at pickup). */
export interface IdTokenSpec {
  readonly aud: string | readonly string[];
  /** Tessera extension: lifetime in seconds. */
  readonly ttl: number | null;
  /** Tessera extension: signing algorithm. */
  readonly alg: 'RS256' | 'ES256' | null;
}

/** `hooks:` of a job (or of `default`): commands the runner runs at given points of the job. */
export interface HooksSpec {
  /** `hooks:pre_get_sources_script`: run in the job's shell before the sources are fetched. */
  readonly preGetSourcesScript: readonly string[];
}

/** A `secrets` entry, always in the long form. */
export interface SecretSpec {
  readonly vault: {
    readonly engine: { readonly name: string; readonly path: string };
    readonly path: string;
    readonly field: string;
  };
  readonly file: boolean;
  /** The `id_tokens` entry to log in with, as `$NAME`, or `null` for the job's only token. */
  readonly token: string | null;
}

/** `environment` in the long form. */
export interface EnvironmentSpec {
  readonly name: string;
  readonly url: string | null;
  readonly deploymentTier: string | null;
  readonly action: 'start' | 'prepare' | 'stop' | 'verify' | 'access';
  /** `on_stop`: the job that stops the environment (absent in older stored jobs). */
  readonly onStop?: string | null;
  /** `auto_stop_in` in seconds; `null` for `never`; absent when not written. */
  readonly autoStopInSeconds?: number | null;
}

/** `artifacts:` of a job (or `default:`), as GitLab reads it. */
export interface ArtifactsSpec {
  readonly paths: readonly string[];
  readonly exclude: readonly string[];
  readonly untracked: boolean;
  readonly when: 'on_success' | 'on_failure' | 'always';
  /** As written (`1 week`, `never`); `null` uses the instance default. */
  readonly expireIn: string | null;
  /** The archive's name, variables not expanded; `null` is GitLab's default `artifacts`. */
  readonly name: string | null;
  readonly exposeAs: string | null;
  /** Who may download (`all`, `developer`, `maintainer`, `none`); `public: false` is `developer`. */
  readonly access: 'all' | 'developer' | 'maintainer' | 'none';
  /** `reports:`: report type to its paths (`dotenv`, `junit`, and every other type GitLab knows). */
  readonly reports: Readonly<Record<string, readonly string[]>>;
}

/** One `cache:` entry, as GitLab reads it. */
export interface CacheSpec {
  /** A key (variables not expanded), or `{ files, prefix }` computed from the commit. */
  readonly key: string | { readonly files: readonly string[]; readonly prefix: string | null };
  readonly paths: readonly string[];
  readonly untracked: boolean;
  readonly policy: 'pull' | 'push' | 'pull-push';
  readonly when: 'on_success' | 'on_failure' | 'always';
  readonly fallbackKeys: readonly string[];
  readonly unprotect: boolean;
}

/** A visible job after `default`, `extends`, `!reference` and anchors were applied. */
/** `image:` of a job or of `default`: the container image the `docker` executor runs the job in. */
export interface ImageSpec {
  readonly name: string;
  readonly entrypoint?: readonly string[];
  /** `pull_policy`: always, if-not-present, never; tried in order. */
  readonly pullPolicy?: readonly string[];
  /** `docker:user`: the user the job's commands run as in the container. */
  readonly dockerUser?: string;
}

/** One `services:` entry: a container started beside the job's, reachable by its aliases. */
export interface ServiceSpec extends ImageSpec {
  readonly alias?: string;
  readonly command?: readonly string[];
  readonly variables?: Readonly<Record<string, string>>;
}

export interface JobSpec {
  readonly name: string;
  readonly stage: string;
  readonly stageIndex: number;
  /** Position in the file, after includes were merged (for "stage order, then file order"). */
  readonly index: number;
  /** `when:` of the job, `null` when not written. */
  readonly when: JobWhen | null;
  /** `allow_failure: true|false`, `null` when not written. */
  readonly allowFailure: boolean | null;
  readonly allowFailureExitCodes: readonly number[];
  /** `null` when the job has no `needs` (waits for earlier stages). */
  readonly needs: readonly NeedSpec[] | null;
  /** `needs:project` and `needs:pipeline` entries (absent when there are none): not waited for. */
  readonly crossNeeds?: readonly CrossNeedSpec[];
  readonly beforeScript: readonly string[];
  readonly script: readonly string[];
  readonly afterScript: readonly string[];
  /** `hooks:` (or `default:hooks`); absent when the job has no hook command. */
  readonly hooks?: HooksSpec;
  /** `default`-independent job variables (`default` has no variables in GitLab). */
  readonly variables: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number | null;
  readonly retry: {
    readonly max: number;
    readonly when: readonly string[];
    /** `retry:exit_codes`; absent when not written. */
    readonly exitCodes?: readonly number[];
  };
  readonly tags: readonly string[];
  readonly environment: EnvironmentSpec | null;
  readonly idTokens: Readonly<Record<string, IdTokenSpec>>;
  readonly secrets: Readonly<Record<string, SecretSpec>>;
  readonly interruptible: boolean;
  /** `manual_confirmation:`, the text the web UI asks to confirm before it runs the manual job (absent: not written). */
  readonly manualConfirmation?: string;
  /** `image:` (or `default:image`); absent in specs stored before Tessera read it. */
  readonly image?: ImageSpec | null;
  /** `services:` (or `default:services`). */
  readonly services?: readonly ServiceSpec[];
  readonly artifacts: ArtifactsSpec | null;
  readonly cache: readonly CacheSpec[];
  /** `dependencies:` (jobs whose artifacts to download); `null` when not written. */
  readonly dependencies: readonly string[] | null;
  /** `null` when the job has no `rules` (then `only`/`except` apply). */
  readonly rules: readonly RuleSpec[] | null;
  readonly only: PolicySpec | null;
  readonly except: PolicySpec | null;
  /** For a job `parallel` made: its `CI_NODE_INDEX` (from 1) and `CI_NODE_TOTAL`. */
  readonly parallel: { readonly index: number; readonly total: number } | null;
  /** `coverage:` as written (`/pattern/flags`), searched in the log when the job ends. */
  readonly coverage: string | null;
  /** `release:`; `null` when not written. */
  readonly release: ReleaseSpec | null;
  /** `resource_group`: at most one job of the group runs at a time; `null` when not written. */
  readonly resourceGroup: string | null;
  /** `trigger:` of a bridge job (absent or `null` for a job a runner runs). */
  readonly trigger?: TriggerSpec | null;
  /** `start_in` of a `when: delayed` job, in seconds; `null` when not written. */
  readonly startInSeconds: number | null;
  /** `inherit:variables`: whether (or which of) the global variables the job gets. */
  readonly inheritVariables: boolean | readonly string[];
  readonly line: number | null;
}

/**
 * The immutable result of loading a `.gitlab-ci.yml`: everything {@link planPipeline} needs, with
 * nothing left to resolve. Deeply frozen.
 */
export interface PipelineSpec {
  /** Stages in order, `.pre` first and `.post` last. */
  readonly stages: readonly string[];
  /** Global `variables` (values only). */
  readonly variables: Readonly<Record<string, string>>;
  /** `workflow:name`, variables not expanded. */
  readonly workflowName: string | null;
  /** `workflow:rules`, `null` when absent (a pipeline is always created). */
  readonly workflowRules: readonly RuleSpec[] | null;
  /** Visible jobs in file order. */
  readonly jobs: readonly JobSpec[];
  /** `workflow:auto_cancel`; absent when not written (GitLab's defaults apply). */
  readonly autoCancel?: AutoCancelSpec;
  /** The configuration file's path, for messages. */
  readonly file: string;
}

/** `workflow:auto_cancel`, with GitLab's defaults filled in. */
export interface AutoCancelSpec {
  /** What a newer pipeline on the same ref cancels of this one. */
  readonly onNewCommit: 'conservative' | 'interruptible' | 'none';
  /** `all`: a job that fails (and may not) cancels the rest of the pipeline. */
  readonly onJobFailure: 'none' | 'all';
}

/** `release:` as written; `$VARIABLES` are expanded when the job succeeds and the release is recorded. */
export interface ReleaseSpec {
  readonly tagName: string;
  readonly name: string | null;
  readonly description: string | null;
  readonly ref: string | null;
  readonly releasedAt: string | null;
  readonly tagMessage: string | null;
  readonly milestones: readonly string[];
  readonly links: readonly {
    readonly name: string;
    readonly url: string;
    readonly linkType: string;
    readonly directAssetPath: string | null;
  }[];
}
