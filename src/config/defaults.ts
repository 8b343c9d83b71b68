/**
 * The documented defaults of every setting, shared by the server, the runner and the CLI.
 * Each setting can also come from the environment variable named in {@link CONFIG_ENV} and from
 * the command line; `docs/configuration.md` describes each one.
 */
export const CONFIG_DEFAULTS = {
  /** Directory for the SQLite database, the key-encryption key file and the admin token. */
  dataDir: './data',
  /** Address the coordinator listens on. Loopback by default: expose it deliberately. */
  host: '127.0.0.1',
  /** Port the coordinator listens on. */
  port: 8080,
  /**
   * The issuer URL written into every token's `iss` and the discovery `issuer`, byte for byte.
   * Empty means `http://<host>:<port>` (with `localhost` for a loopback or wildcard host).
   */
  issuer: '',
  /** `postgres://…` for PostgreSQL; empty means SQLite at `<dataDir>/tessera.db`. */
  database: '',
  /**
   * Whether the hot statements of a dispatch go to PostgreSQL as named (prepared) statements; off
   * for a pooler that cannot keep them (PgBouncer before 1.21 in transaction mode).
   */
  databasePreparedStatements: true,
  /** Upper bound, in seconds, on any ID token's lifetime (pre-issued or on demand). */
  tokenMaxLifetime: 7200,
  /** Lifetime, in seconds, of an on-demand token when the request names none. */
  onDemandDefaultLifetime: 300,
  /** Seconds relying parties may cache the JWKS (`Cache-Control: max-age`); drives key rotation timing. */
  jwksCachePeriod: 300,
  /** Default job timeout in seconds when the job and project set none. */
  jobTimeout: 3600,
  /** Seconds a runner may go without an update before its job's lease expires. */
  leaseTimeout: 120,
  /** Seconds `POST /api/v4/jobs/request` holds a request open when no job is pending. */
  jobRequestWait: 20,
  /** pino log level. */
  logLevel: 'info',
  /** Token minting requests allowed per job per minute (on-demand endpoint). */
  tokenRateLimit: 120,
  /** Failed authentication attempts allowed per client address per minute. */
  authRateLimit: 60,
  /** Introspection requests allowed per caller (access token or instance introspection token) per minute. */
  introspectionRateLimit: 600,
  /**
   * Who may read `/metrics` without the metrics token: comma-separated addresses and CIDR blocks
   * (GitLab's monitoring IP allow-list). Loopback only by default; empty means the token only.
   */
  metricsAllow: '127.0.0.0/8,::1/128',
  /**
   * Directories (comma-separated absolute paths) under which any user may give a project a local
   * repository (a path or `file://` URL). Empty: only administrators may (GitLab imports no local
   * paths at all). `tessera run` sets it to the working copy.
   */
  repositoryAllowLocal: '',
  /** Whether a repository URL may be plain `http://` (`https://` and `ssh://` always may). */
  repositoryAllowHttp: true,
  /**
   * Whether repository URLs may reach loopback, private, link-local and shared (CGNAT) addresses,
   * after DNS resolution (GitLab's "Allow requests to the local network").
   */
  allowLocalNetwork: false,
  /** Whether users may create top-level groups unless set otherwise per user (GitLab's `can_create_group`). */
  usersCanCreateGroup: true,
  /** Seconds between two looks (`git ls-remote`) at a pull-mirrored project's repository. */
  mirrorInterval: 60,
  /** Where artifacts live: empty for `<dataDir>/artifacts`, a directory path, or `s3://bucket[/prefix]`. */
  artifactsStore: '',
  /** The S3-compatible endpoint of an `s3://` store; empty for AWS (`https://s3.<region>.amazonaws.com`). */
  artifactsS3Endpoint: '',
  /** The region an `s3://` store signs its requests for. */
  artifactsS3Region: 'us-east-1',
  /** Largest artifact archive in MB (GitLab's `max_artifacts_size`); a project may set a lower one. */
  maxArtifactsSize: 100,
  /** How long artifacts are kept when the job says nothing (`artifacts:expire_in`); `never` keeps them. */
  artifactsExpireIn: '30 days',
  /**
   * Hosts (comma-separated names or IP addresses, matched exactly) that `include:remote` may fetch
   * from. Empty: every remote include is refused.
   */
  includeRemoteHosts: '',
  /** Whether `include:remote` may fetch plain `http://` URLs (`https://` always may). */
  includeRemoteAllowHttp: false,
  /** Seconds all the remote includes of one configuration may take together (GitLab: 10). */
  includeRemoteTimeout: 10,
  /** A PEM file of CA certificates `include:remote` trusts besides the system's (an internal CA). */
  includeRemoteCaFile: '',
} as const;

/** The shape of the configuration, as validated and frozen by `loadConfig`. */
export type TesseraConfig = {
  readonly [K in keyof typeof CONFIG_DEFAULTS]: (typeof CONFIG_DEFAULTS)[K] extends number
    ? number
    : (typeof CONFIG_DEFAULTS)[K] extends boolean
      ? boolean
      : string;
};

/** Environment variable for each setting. */
export const CONFIG_ENV: { readonly [K in keyof TesseraConfig]: string } = {
  dataDir: 'TESSERA_DATA_DIR',
  host: 'TESSERA_HOST',
  port: 'TESSERA_PORT',
  issuer: 'TESSERA_ISSUER',
  database: 'TESSERA_DATABASE_URL',
  databasePreparedStatements: 'TESSERA_DATABASE_PREPARED_STATEMENTS',
  tokenMaxLifetime: 'TESSERA_TOKEN_MAX_LIFETIME',
  onDemandDefaultLifetime: 'TESSERA_ON_DEMAND_DEFAULT_LIFETIME',
  jwksCachePeriod: 'TESSERA_JWKS_CACHE_PERIOD',
  jobTimeout: 'TESSERA_JOB_TIMEOUT',
  leaseTimeout: 'TESSERA_LEASE_TIMEOUT',
  jobRequestWait: 'TESSERA_JOB_REQUEST_WAIT',
  logLevel: 'TESSERA_LOG_LEVEL',
  tokenRateLimit: 'TESSERA_TOKEN_RATE_LIMIT',
  authRateLimit: 'TESSERA_AUTH_RATE_LIMIT',
  introspectionRateLimit: 'TESSERA_INTROSPECTION_RATE_LIMIT',
  metricsAllow: 'TESSERA_METRICS_ALLOW',
  repositoryAllowLocal: 'TESSERA_REPOSITORY_ALLOW_LOCAL',
  repositoryAllowHttp: 'TESSERA_REPOSITORY_ALLOW_HTTP',
  allowLocalNetwork: 'TESSERA_ALLOW_LOCAL_NETWORK',
  usersCanCreateGroup: 'TESSERA_USERS_CAN_CREATE_GROUP',
  mirrorInterval: 'TESSERA_MIRROR_INTERVAL',
  artifactsStore: 'TESSERA_ARTIFACTS_STORE',
  artifactsS3Endpoint: 'TESSERA_ARTIFACTS_S3_ENDPOINT',
  artifactsS3Region: 'TESSERA_ARTIFACTS_S3_REGION',
  maxArtifactsSize: 'TESSERA_MAX_ARTIFACTS_SIZE',
  artifactsExpireIn: 'TESSERA_ARTIFACTS_EXPIRE_IN',
  includeRemoteHosts: 'TESSERA_INCLUDE_REMOTE_HOSTS',
  includeRemoteAllowHttp: 'TESSERA_INCLUDE_REMOTE_ALLOW_HTTP',
  includeRemoteTimeout: 'TESSERA_INCLUDE_REMOTE_TIMEOUT',
  includeRemoteCaFile: 'TESSERA_INCLUDE_REMOTE_CA_FILE',
};
