/**
 * Bounds on what a pipeline configuration may ask of the parser. Every one of them turns a
 * hostile file (a billion-laughs alias bomb, a megabyte of nested brackets, a million jobs) into
 * an `ERR_PIPELINE_INVALID` answer in milliseconds instead of a stalled or crashed coordinator.
 */
export const PIPELINE_LIMITS = {
  /** Largest configuration file (and each included file), in bytes. */
  maxFileBytes: 1024 * 1024,
  /** Most alias (`*name`) uses in one file. */
  maxAliases: 20_000,
  /** Most YAML nodes after alias and merge-key expansion, over all files. */
  maxExpandedNodes: 1_000_000,
  /** Deepest nesting of mappings and sequences. */
  maxDepth: 64,
  /** Most jobs (hidden ones included) in one pipeline. */
  maxJobs: 5_000,
  /** Longest string value (a script line, a variable value), in characters. */
  maxStringLength: 128 * 1024,
  /** Longest mapping key, in characters. */
  maxKeyLength: 255,
  /** Most files reachable through `include`, as GitLab. */
  maxIncludes: 150,
  /** Deepest chain of nested includes, as GitLab. */
  maxIncludeDepth: 100,
  /** Longest time reading the includes of one configuration may take, as GitLab (30 s). */
  maxIncludeMilliseconds: 30_000,
  /** Longest `extends` chain, as GitLab. */
  maxExtendsDepth: 11,
  /** Deepest chain of `!reference` tags, as GitLab. */
  maxReferenceDepth: 10,
  /** Deepest nesting of arrays in `script`, as GitLab. */
  maxScriptNesting: 10,
  /** Most `needs` entries of one job, as GitLab. */
  maxNeeds: 50,
  /** Longest rule expression, in characters. */
  maxExpressionLength: 10_000,
  /** Most tokens in one rule expression, as GitLab's lexer. */
  maxExpressionTokens: 200,
  /** Most errors collected before the rest are summarised in one line. */
  maxErrors: 200,
  /** Longest job timeout: one month, as GitLab. */
  maxTimeoutSeconds: 30 * 24 * 3600,
  /**
   * Most bytes of text that alias uses copy, over all files (GitLab bounds the parsed YAML's size
   * the same way: "The parsed YAML is too big").
   */
  maxAliasExpandedBytes: 4 * 1024 * 1024,
  /** Largest stored spec of one job (its JSON, after extends, !reference and default), in bytes. */
  maxJobSpecBytes: 1024 * 1024,
  /** Largest stored spec of all jobs of one pipeline together, in bytes. */
  maxPipelineSpecBytes: 32 * 1024 * 1024,
} as const;
