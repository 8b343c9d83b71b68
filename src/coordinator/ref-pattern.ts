/**
 * Whether `ref` matches a protected-ref `pattern`. As GitLab's RefMatcher: `*` stands for any run
 * of characters (including `/`), everything else is literal, the whole name must match.
 */
export function refMatches(pattern: string, ref: string): boolean {
  if (!pattern.includes('*')) return pattern === ref;
  const parts = pattern.split('*');
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (!ref.startsWith(first) || ref.length < first.length + last.length || !ref.endsWith(last)) return false;
  // Greedy-free left-to-right scan: linear, no regular expression built from user input.
  let position = first.length;
  const end = ref.length - last.length;
  for (const middle of parts.slice(1, -1)) {
    const found = ref.indexOf(middle, position);
    if (found === -1 || found + middle.length > end) return false;
    position = found + middle.length;
  }
  return position <= end;
}
