/**
 * Everything an ID token's claims are made from, supplied by the coordinator from its own records
 * (never from a job or a runner). Ids are numbers here and strings in the claims (DESIGN 3.2).
 */
export interface JobTokenContext {
  namespace: { id: number; fullPath: string };
  project: {
    id: number;
    /** Full path, e.g. `acme/platform/api`. */
    path: string;
    visibility: 'private' | 'internal' | 'public';
    /** The project's `ci_id_token_sub_claim_components`; null means the default. */
    subClaimComponents: readonly string[] | null;
    /** True when another project once held this path (DESIGN 3.3, burned path). */
    pathReused: boolean;
  };
  /** Who started the pipeline; null when no user is known (user claims are then null). */
  user: { id: number; username: string; email: string | null; accessLevel: string | null } | null;
  pipeline: { id: number; source: string };
  job: { id: number };
  ref: { name: string; type: 'branch' | 'tag'; protected: boolean };
  /** Only for jobs with an environment. */
  environment: { name: string; protected: boolean; tier: string; action: string } | null;
  runner: { id: number; environment: 'self-hosted' };
  sha: string;
  /** `<host>/<project_path>//.gitlab-ci.yml@refs/heads/main`; null omits both config claims. */
  ciConfigRefUri: string | null;
  ciConfigSha: string | null;
}
