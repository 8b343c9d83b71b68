/** One test case of a JUnit report, in GitLab's test report shape. */
export interface TestCase {
  status: 'success' | 'failed' | 'error' | 'skipped';
  name: string;
  classname: string;
  file: string | null;
  execution_time: number;
  system_output: string | null;
  stack_trace: string | null;
}

/** Longest text kept of one failure message or output (GitLab trims them too). */
const MAX_TEXT = 64 * 1024;

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, entity: string) => {
    if (entity.startsWith('#x') || entity.startsWith('#X'))
      return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number(entity.slice(1)));
    return ENTITIES[entity.toLowerCase()] ?? whole;
  });
}

function attributes(tag: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const match of tag.matchAll(/([A-Za-z_][\w:.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
    found[match[1]!] = decode(match[2] ?? match[3] ?? '');
  }
  return found;
}

/**
 * Reads the test cases of JUnit XML (one document or several concatenated, as a `reports:junit`
 * upload of several files is): `<testcase>` elements with their `<failure>`, `<error>`,
 * `<skipped>` and `<system-out>` children. A small scanner rather than an XML library: it reads
 * only these elements and never resolves entities beyond the five predefined ones and character
 * references, so no document can make it fetch or expand anything.
 */
export function parseJunit(xml: string): TestCase[] {
  const cases: TestCase[] = [];
  let current: TestCase | null = null;
  let capture: 'failure' | 'error' | 'system-out' | null = null;
  let text = '';
  const token =
    /<!\[CDATA\[([\s\S]*?)\]\]>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!DOCTYPE[^>]*>|<(\/?)([A-Za-z_][\w:.-]*)([^>]*?)(\/?)>|([^<]+)/g;
  for (const match of xml.matchAll(token)) {
    const [, cdata, closing, name, rest, selfClosing, chars] = match;
    if (cdata !== undefined || chars !== undefined) {
      if (capture !== null && text.length < MAX_TEXT) text += cdata ?? decode(chars ?? '');
      continue;
    }
    if (name === undefined) continue;
    if (name === 'testcase' && !closing) {
      const attrs = attributes(rest ?? '');
      current = {
        status: 'success',
        name: attrs.name ?? '',
        classname: attrs.classname ?? attrs.class ?? '',
        file: attrs.file ?? null,
        execution_time: Number(attrs.time ?? 0) || 0,
        system_output: null,
        stack_trace: null,
      };
      cases.push(current);
      if (selfClosing) current = null;
      continue;
    }
    if (name === 'testcase' && closing) {
      current = null;
      continue;
    }
    if (current === null) continue;
    if (!closing && (name === 'failure' || name === 'error' || name === 'skipped')) {
      current.status = name === 'failure' ? 'failed' : name;
      if (name !== 'skipped') {
        const message = attributes(rest ?? '').message;
        if (selfClosing) current.system_output = message ?? null;
        else {
          capture = name;
          text = message ? `${message}\n` : '';
        }
      }
      continue;
    }
    if (!closing && name === 'system-out' && !selfClosing) {
      capture = 'system-out';
      text = '';
      continue;
    }
    if (closing && capture !== null && name === capture) {
      const value = text.slice(0, MAX_TEXT);
      if (capture === 'system-out') current.system_output = value;
      else current.stack_trace = value;
      capture = null;
      text = '';
    }
  }
  return cases;
}

/** Counts of a list of test cases, GitLab's names. */
export function countCases(cases: readonly TestCase[]) {
  const count = (status: TestCase['status']) => cases.filter((testCase) => testCase.status === status).length;
  return {
    total_time: Math.round(cases.reduce((sum, testCase) => sum + testCase.execution_time, 0) * 1000) / 1000,
    total_count: cases.length,
    success_count: count('success'),
    failed_count: count('failed'),
    skipped_count: count('skipped'),
    error_count: count('error'),
  };
}
