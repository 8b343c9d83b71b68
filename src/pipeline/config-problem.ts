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

  /** Whether any error was recorded. */
  get failed(): boolean {
    return this.errors.length > 0;
  }

  /** The errors, with the summary of dropped ones last. */
  finalErrors(): ConfigProblem[] {
    if (this.dropped === 0) return [...this.errors];
    return [
      ...this.errors,
      {
        path: this.mainFile,
        message: `${this.dropped} more errors not shown; fix the ones above first`,
        line: null,
      },
    ];
  }

  private make(path: string, message: string, at: SourcePosition | null | undefined): ConfigProblem {
    const file = at?.file;
    const where = file !== undefined && file !== this.mainFile ? ` (in ${file})` : '';
    return { path, message: `${message}${where}`, line: at?.line ?? null };
  }
}
