import { PIPELINE_LIMITS } from './limits.js';

/**
 * One error or warning about a pipeline configuration: where it is (a YAML path such as
 * `jobs.deploy.id_tokens.VAULT.aud`, top-level keywords by their name) and on which line of the
 * file (1-based; `null` when the problem has no single place, such as a cycle).
 */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
  readonly line: number | null;
}

/** Where a YAML node came from: its line and, for `include:local` files, which file. */
export interface SourcePosition {
  readonly line: number | null;
  readonly file?: string | undefined;
}

/**
 * Collects every error and warning of one load, so that a user sees all of them at once. Past
 * {@link PIPELINE_LIMITS.maxErrors} errors it records one summary line and drops the rest, which
 * keeps a file with a million mistakes from producing a million-line answer.
 */
export class ProblemList {
  readonly errors: ConfigProblem[] = [];
  readonly warnings: ConfigProblem[] = [];
  private dropped = 0;
  // Which file each problem's line belongs to, for sorting (the main file sorts first).
  private readonly files = new WeakMap<ConfigProblem, string>();

  constructor(private readonly mainFile: string) {}

  /** Records an error at `path`, with the line (and file, when included) of `at`. */
  error(path: string, message: string, at?: SourcePosition | null): void {
    if (this.errors.length >= PIPELINE_LIMITS.maxErrors) {
      this.dropped += 1;
      return;
    }
    this.errors.push(this.make(path, message, at));
  }

  /** Records a warning at `path`. */
  warn(path: string, message: string, at?: SourcePosition | null): void {
    if (this.warnings.length < PIPELINE_LIMITS.maxErrors) this.warnings.push(this.make(path, message, at));
  }

  /** Copies the errors and warnings of `other` that `keep` accepts (within the error cap). */
  absorb(other: ProblemList, keep: (problem: ConfigProblem) => boolean): void {
    for (const [source, target] of [
      [other.errors, this.errors],
      [other.warnings, this.warnings],
    ] as const) {
      for (const problem of source) {
        if (!keep(problem)) continue;
        if (target === this.errors && this.errors.length >= PIPELINE_LIMITS.maxErrors) {
          this.dropped += 1;
          continue;
        }
        if (target.length >= PIPELINE_LIMITS.maxErrors) continue;
        target.push(problem);
        const file = other.files.get(problem);
        if (file !== undefined) this.files.set(problem, file);
      }
    }
  }

  /** Whether any error was recorded. */
  get failed(): boolean {
    return this.errors.length > 0;
  }

  /**
   * The errors in reading order (main file by line, then included files by name and line, then
   * those without a line), with the summary of dropped ones last.
   */
  finalErrors(): ConfigProblem[] {
    const sorted = this.sorted(this.errors);
    if (this.dropped === 0) return sorted;
    return [
      ...sorted,
      {
        path: this.mainFile,
        message: `${this.dropped} more errors not shown; fix the ones above first`,
        line: null,
      },
    ];
  }

  /** The warnings in reading order. */
  finalWarnings(): ConfigProblem[] {
    return this.sorted(this.warnings);
  }

  private sorted(problems: readonly ConfigProblem[]): ConfigProblem[] {
    const rank = (problem: ConfigProblem): [number, string, number] => {
      const file = this.files.get(problem) ?? this.mainFile;
      if (problem.line === null) return [2, '', 0];
      return file === this.mainFile ? [0, '', problem.line] : [1, file, problem.line];
    };
    return problems
      .map((problem, index) => ({ problem, index, key: rank(problem) }))
      .sort(
        (a, b) =>
          a.key[0] - b.key[0] || a.key[1].localeCompare(b.key[1]) || a.key[2] - b.key[2] || a.index - b.index,
      )
      .map(({ problem }) => problem);
  }

  private make(path: string, message: string, at: SourcePosition | null | undefined): ConfigProblem {
    const file = at?.file;
    const where = file !== undefined && file !== this.mainFile ? ` (in ${file})` : '';
    const problem = { path, message: `${message}${where}`, line: at?.line ?? null };
    if (file !== undefined) this.files.set(problem, file);
    return problem;
  }
}
