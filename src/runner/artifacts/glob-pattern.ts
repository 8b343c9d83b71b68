/**
 * Compiles an artifact or cache path pattern the way GitLab Runner matches them (doublestar):
 * `*` and `?` never cross a `/`, `**` as a whole segment matches any number of directories
 * (also none), `[abc]`/`[!a-z]` are classes and `{a,b}` alternatives. Matching is on paths
 * relative to the project directory, `/`-separated, without a trailing `/`.
 */
export function compileGlob(pattern: string): RegExp {
  let source = '';
  let index = 0;
  let braces = 0;
  while (index < pattern.length) {
    const char = pattern[index]!;
    if (char === '*') {
      if (pattern[index + 1] === '*') {
        const atStart = index === 0 || pattern[index - 1] === '/';
        const next = pattern[index + 2];
        if (atStart && next === '/') {
          source += '(?:[^/]*(?:/[^/]*)*/)?';
          index += 3;
          continue;
        }
        if (atStart && next === undefined) {
          source += '.*';
          index += 2;
          continue;
        }
        source += '[^/]*';
        index += 2;
        continue;
      }
      source += '[^/]*';
    } else if (char === '?') source += '[^/]';
    else if (char === '[') {
      const end = pattern.indexOf(']', index + 2);
      if (end < 0) source += '\\[';
      else {
        let body = pattern.slice(index + 1, end);
        if (body.startsWith('!') || body.startsWith('^')) body = `^${body.slice(1)}`;
        source += `[${body.replace(/\\/g, '\\\\')}]`;
        index = end;
      }
    } else if (char === '{') {
      braces += 1;
      source += '(?:';
    } else if (char === '}' && braces > 0) {
      braces -= 1;
      source += ')';
    } else if (char === ',' && braces > 0) source += '|';
    else if (char === '\\' && index + 1 < pattern.length) {
      index += 1;
      source += escapeRegExp(pattern[index]!);
    } else source += escapeRegExp(char);
    index += 1;
  }
  if (braces > 0) return new RegExp(`^${escapeRegExp(pattern)}$`);
  return new RegExp(`^${source}$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Whether `pattern` has any glob syntax (otherwise it names one path). */
export function hasGlob(pattern: string): boolean {
  return /[*?[{]/.test(pattern);
}

/** The directory part of `pattern` before its first segment with glob syntax (`''` for the root). */
export function staticPrefix(pattern: string): string {
  const segments = pattern.split('/');
  const fixed: string[] = [];
  for (const segment of segments) {
    if (hasGlob(segment)) break;
    fixed.push(segment);
  }
  return fixed.length === segments.length ? fixed.slice(0, -1).join('/') : fixed.join('/');
}
