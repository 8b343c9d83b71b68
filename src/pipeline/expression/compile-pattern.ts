import { RE2JS } from 're2js';
import type { CompiledPattern } from './ast.js';

/**
 * Compiles the body and flags of a `/pattern/flags` literal for RE2 (through re2js), never for
 * JavaScript's backtracking engine, so that no pattern can stall the coordinator. As GitLab, the
 * flags become an inline group (`(?im)…`): `i` ignores case, `m` lets `^`/`$` match at line
 * breaks, `s` lets `.` match a line break, `U` swaps greedy and lazy.
 * Answers a message instead of a pattern when RE2 refuses the syntax (look-arounds, back-references).
 */
export function compilePattern(source: string, flags: string): CompiledPattern | { error: string } {
  if (!/^[ismU]*$/.test(flags))
    return { error: `unknown regular expression flag in "${flags}"; use i, m, s or U` };
  const uniqueFlags = [...new Set(flags)].join('');
  try {
    const regex = RE2JS.compile(uniqueFlags === '' ? source : `(?${uniqueFlags})${source}`);
    return { source, flags, regex };
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'invalid';
    return {
      error: `invalid regular expression /${source}/${flags}: ${reason} (RE2 syntax: no look-around or back-references)`,
    };
  }
}

/**
 * Reads a whole `/pattern/flags` string, as the value of a variable on the right of `=~` or an
 * `only:refs` entry. Answers `null` when the text is not in that form.
 */
export function splitPatternLiteral(text: string): { source: string; flags: string } | null {
  const match = /^\/(.+)\/([A-Za-z]*)$/s.exec(text);
  if (match === null) return null;
  return { source: match[1]!.replaceAll('\\/', '/'), flags: match[2]! };
}
