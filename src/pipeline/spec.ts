import type { CompiledPattern, Expression } from './expression/ast.js';

/** `when` of a job or rule. `never` only in rules (as GitLab). */
export type JobWhen = 'on_success' | 'on_failure' | 'always' | 'manual';

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
}

/** One `needs` entry. */
export interface NeedSpec {
  readonly job: string;
  readonly optional: boolean;
  /** `artifacts: false` in the need: the job waits for it but does not download its artifacts. */
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
  readonly beforeScript: readonly string[];
  readonly script: readonly string[];
  readonly afterScript: readonly string[];
  /** `default`-independent job variables (`default` has no variables in GitLab). */
  readonly variables: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number | null;
  readonly retry: { readonly max: number; readonly when: readonly string[] };
  readonly tags: readonly string[];
  readonly environment: EnvironmentSpec | null;
  readonly idTokens: Readonly<Record<string, IdTokenSpec>>;
  readonly secrets: Readonly<Record<string, SecretSpec>>;
  readonly interruptible: boolean;
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
  /** The configuration file's path, for messages. */
  readonly file: string;
}
