import { RE2JS } from 're2js';

/**
 * Compiles a path glob as GitLab matches `rules:changes`, `only:changes` and `rules:exists` (Ruby's
 * `File.fnmatch?` with `FNM_PATHNAME | FNM_DOTMATCH | FNM_EXTGLOB`): `*` and `?` never cross a `/`,
 * `**` followed by `/` matches any number of directories, `[...]` is a class, `{a,b}` an alternative, and a dot at
 * the start of a name needs no special pattern. The result is an RE2 pattern over the whole path, so
 * no glob can stall the coordinator. Answers a message when the glob cannot be compiled.
 */
export function compileGlob(glob: string): RE2JS | { error: string } {
  const translated = translate(glob, 0, false);
  if ('error' in translated) return translated;
  try {
    return RE2JS.compile(`^${translated.source}$`);
  } catch (error) {
    return { error: `invalid glob "${glob}": ${error instanceof Error ? error.message : 'invalid'}` };
  }
}

/** Whether `path` matches any of `globs` (compiled once per call site by the caller). */
export function anyGlobMatches(globs: readonly RE2JS[], paths: readonly string[]): boolean {
  return paths.some((path) => globs.some((glob) => glob.matcher(path).matches()));
}

function translate(
  glob: string,
  start: number,
  inBraces: boolean,
): { source: string; end: number } | { error: string } {
  let source = '';
  let index = start;
  while (index < glob.length) {
    const char = glob[index]!;
    if (inBraces && (char === ',' || char === '}')) return { source, end: index };
    if (char === '\\' && index + 1 < glob.length) {
      source += RE2JS.quote(glob[index + 1]!);
      index += 2;
    } else if (char === '*') {
      if (glob[index + 1] === '*' && glob[index + 2] === '/' && (index === 0 || glob[index - 1] === '/')) {
        source += '(?:[^/]*/)*';
        index += 3;
      } else {
        while (glob[index] === '*') index += 1;
        source += '[^/]*';
      }
    } else if (char === '?') {
      source += '[^/]';
      index += 1;
    } else if (char === '[') {
      const close = glob.indexOf(']', index + 2);
      if (close === -1) {
        source += '\\[';
        index += 1;
        continue;
      }
      let body = glob.slice(index + 1, close);
      const negated = body.startsWith('!') || body.startsWith('^');
      if (negated) body = body.slice(1);
      const escaped = body.replace(/[\\\]^[]/g, (match) => `\\${match}`);
      source += negated ? `[^/${escaped}]` : `(?:[${escaped}])`;
      index = close + 1;
    } else if (char === '{') {
      const alternatives: string[] = [];
      let position = index + 1;
      for (;;) {
        const part = translate(glob, position, true);
        if ('error' in part) return part;
        alternatives.push(part.source);
        if (part.end >= glob.length) return { error: `unclosed { in glob "${glob}"` };
        position = part.end + 1;
        if (glob[part.end] === '}') break;
      }
      source += `(?:${alternatives.join('|')})`;
      index = position;
    } else {
      source += RE2JS.quote(char);
      index += 1;
    }
  }
  if (inBraces) return { source, end: glob.length };
  return { source, end: index };
}

/** GitLab stops comparing `exists` globs after this many path checks and counts the clause true. */
const MAX_EXISTS_COMPARISONS = 10_000;

/**
 * `rules:exists` over a file list: whether a path of `paths` matches a glob of `globs`. Past
 * GitLab's bound on comparisons (10,000) the clause counts as true, as in GitLab.
 *
 * @example existsIn(['src/a.ts'], [compileGlob('src/*.ts') as RE2JS]) // true
 */
export function existsIn(paths: readonly string[], globs: readonly RE2JS[]): boolean {
  if (globs.length * paths.length > MAX_EXISTS_COMPARISONS) return true;
  return paths.some((path) => globs.some((glob) => glob.matcher(path).matches()));
}
