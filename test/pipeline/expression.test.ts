import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Expression } from '../../src/pipeline/expression/ast.js';
import { evaluateExpression } from '../../src/pipeline/expression/evaluate.js';
import { parseExpression } from '../../src/pipeline/expression/parse.js';

function parse(text: string): Expression {
  const result = parseExpression(text);
  if (!result.ok) assert.fail(`${text}: ${result.message}`);
  return result.expression;
}

function check(text: string, variables: Record<string, string> = {}): boolean {
  return evaluateExpression(parse(text), variables);
}

describe('rule expressions: GitLab semantics', () => {
  it('treats a bare variable as true when set and non-empty', () => {
    assert.equal(check('$CI_COMMIT_TAG', { CI_COMMIT_TAG: 'v1' }), true);
    assert.equal(check('$CI_COMMIT_TAG', { CI_COMMIT_TAG: '' }), false);
    assert.equal(check('$CI_COMMIT_TAG', {}), false);
  });

  it('tells null and the empty string apart', () => {
    assert.equal(check('$X == null', {}), true);
    assert.equal(check('$X == null', { X: '' }), false);
    assert.equal(check('$X == ""', { X: '' }), true);
    assert.equal(check('$X == ""', {}), false);
    assert.equal(check('$X != null', { X: 'a' }), true);
    assert.equal(check('null == $X', {}), true);
  });

  it('compares variables with strings and with each other, single or double quoted', () => {
    const variables = { CI_COMMIT_BRANCH: 'main', CI_DEFAULT_BRANCH: 'main', OTHER: 'dev' };
    assert.equal(check('$CI_COMMIT_BRANCH == "main"', variables), true);
    assert.equal(check("$CI_COMMIT_BRANCH == 'main'", variables), true);
    assert.equal(check('$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH', variables), true);
    assert.equal(check('$CI_COMMIT_BRANCH != $OTHER', variables), true);
    assert.equal(check('"main" == $CI_COMMIT_BRANCH', variables), true);
  });

  it('matches regular expressions with flags and escaped slashes', () => {
    assert.equal(check('$REF =~ /^release-/', { REF: 'release-1' }), true);
    assert.equal(check('$REF =~ /^release-/', { REF: 'RELEASE-1' }), false);
    assert.equal(check('$REF =~ /^release-/i', { REF: 'RELEASE-1' }), true);
    assert.equal(check('$REF !~ /^release-/', { REF: 'main' }), true);
    assert.equal(check('$URL =~ /^https:\\/\\/example\\.com\\//', { URL: 'https://example.com/x' }), true);
    assert.equal(check('$MSG =~ /^skip$/m', { MSG: 'first\nskip\nlast' }), true);
    assert.equal(check('$MSG =~ /^skip$/', { MSG: 'first\nskip\nlast' }), false);
    assert.equal(check('$MSG =~ /a.b/s', { MSG: 'a\nb' }), true);
    assert.equal(check('$MSG =~ /a.b/', { MSG: 'a\nb' }), false);
    assert.equal(check('$V =~ /^v\\d+\\.\\d+\\.\\d+$/', { V: 'v1.22.3' }), true);
  });

  it('matches an unset variable as the empty string', () => {
    assert.equal(check('$UNSET =~ /^$/', {}), true);
    assert.equal(check('$UNSET =~ /x/', {}), false);
    assert.equal(check('$UNSET !~ /x/', {}), true);
  });

  it('takes the pattern from a variable holding /pattern/flags', () => {
    assert.equal(check('$REF =~ $PATTERN', { REF: 'Feature-1', PATTERN: '/^feature/i' }), true);
    assert.equal(check('$REF =~ $PATTERN', { REF: 'main', PATTERN: '/^feature/' }), false);
    // A value that is not a pattern never matches.
    assert.equal(check('$REF =~ $PATTERN', { REF: 'main', PATTERN: 'main' }), false);
    assert.equal(check('$REF !~ $PATTERN', { REF: 'main' }), true);
  });

  it('binds && tighter than ||, and parentheses override', () => {
    assert.equal(check('$A || $B && $C', { A: '1' }), true);
    assert.equal(check('($A || $B) && $C', { A: '1' }), false);
    assert.equal(check('$A && $B || $C', { C: '1' }), true);
    assert.equal(check('$A && ($B || $C)', { C: '1' }), false);
  });

  it("keeps GitLab's Ruby truthiness for && and || operands", () => {
    // The empty string is truthy for && / || (Ruby), but the statement's value must be present.
    assert.equal(check('$EMPTY || $SET', { EMPTY: '', SET: 'x' }), false);
    assert.equal(check('$SET || $EMPTY', { EMPTY: '', SET: 'x' }), true);
    assert.equal(check('$EMPTY && $SET', { EMPTY: '', SET: 'x' }), true);
    assert.equal(check('$UNSET || $SET', { SET: 'x' }), true);
  });

  it('accepts the braced form of a variable', () => {
    const braced = `$${'{'}CI_COMMIT_TAG} == "v1"`;
    assert.equal(check(braced, { CI_COMMIT_TAG: 'v1' }), true);
  });

  it('refuses malformed expressions with a message that says what to write', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['$A ==', /ends where a value/],
      ['$A == "x" &&', /ends where a value/],
      ['($A', /missing "\)"/],
      ['$A)', /unbalanced/],
      ['$A $B', /missing operator/],
      ['CI_COMMIT_BRANCH == "x"', /write \$CI_COMMIT_BRANCH/],
      ['$A = "x"', /operators are/],
      ['$A === "x"', /operators are/],
      ['$A == "x', /unterminated string/],
      ['$A =~ /x', /unterminated regular expression/],
      ['$A =~ /(?=x)/', /RE2/],
      ['$A =~ /x/g', /flag/],
      ['$A =~ "x"', /pattern/],
      ['&& $A', /value must come before/],
      ['$', /variable name/],
      [Array.from({ length: 101 }, (_, i) => `$V${i}`).join(' && '), /tokens/],
    ];
    for (const [text, message] of cases) {
      const result = parseExpression(text);
      assert.equal(result.ok, false, text);
      if (!result.ok) assert.match(result.message, message, text);
    }
  });

  it('runs a catastrophic-backtracking pattern in linear time (RE2)', () => {
    const expression = parse('$INPUT =~ /^(a+)+$/');
    assert.equal(evaluateExpression(expression, { INPUT: `${'a'.repeat(100_000)}b` }), false);
    assert.equal(evaluateExpression(parse('$INPUT =~ /(x+x+)+y/'), { INPUT: 'x'.repeat(50_000) }), false);
  });
});

// Generators for well-formed expressions, printed fully parenthesised or minimally.
const NAMES = ['A', 'B', 'C', 'EMPTY'];
type Node =
  | { kind: 'variable'; name: string }
  | { kind: 'string'; value: string }
  | { kind: 'null' }
  | { kind: 'cmp'; op: '==' | '!='; left: Node; right: Node }
  | { kind: 'match'; op: '=~' | '!~'; left: Node; pattern: string }
  | { kind: 'logic'; op: '&&' | '||'; left: Node; right: Node };

const leaf: fc.Arbitrary<Node> = fc.oneof(
  fc.constantFrom(...NAMES).map((name): Node => ({ kind: 'variable', name })),
  fc.constantFrom('', 'a', 'b', 'main').map((value): Node => ({ kind: 'string', value })),
  fc.constant<Node>({ kind: 'null' }),
);
const comparison: fc.Arbitrary<Node> = fc.oneof(
  leaf,
  fc.record({
    kind: fc.constant('cmp' as const),
    op: fc.constantFrom('==' as const, '!=' as const),
    left: leaf,
    right: leaf,
  }),
  fc.record({
    kind: fc.constant('match' as const),
    op: fc.constantFrom('=~' as const, '!~' as const),
    left: leaf,
    pattern: fc.constantFrom('^a', 'b$', 'a|b', '^$', 'ma.n'),
  }),
);
const { tree } = fc.letrec<{ tree: Node }>((recurse) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    comparison,
    fc.record({
      kind: fc.constant('logic' as const),
      op: fc.constantFrom('&&' as const, '||' as const),
      left: recurse('tree'),
      right: recurse('tree'),
    }),
  ),
}));

function printFull(node: Node): string {
  switch (node.kind) {
    case 'variable':
      return `$${node.name}`;
    case 'string':
      return `"${node.value}"`;
    case 'null':
      return 'null';
    case 'cmp':
      return `${printFull(node.left)} ${node.op} ${printFull(node.right)}`;
    case 'match':
      return `${printFull(node.left)} ${node.op} /${node.pattern}/`;
    case 'logic':
      return `(${printFull(node.left)} ${node.op} ${printFull(node.right)})`;
  }
}

// Parentheses only where precedence needs them: || inside && (either side), and any right operand
// of the same operator (left-associative).
function printMinimal(
  node: Node,
  parent: '&&' | '||' | null = null,
  side: 'left' | 'right' = 'left',
): string {
  if (node.kind !== 'logic') return printFull(node);
  const inner = `${printMinimal(node.left, node.op, 'left')} ${node.op} ${printMinimal(node.right, node.op, 'right')}`;
  const needs = (parent === '&&' && node.op === '||') || (parent === node.op && side === 'right');
  return needs ? `(${inner})` : inner;
}

// An independent model of GitLab's evaluation (Ruby values), for the property tests.
function model(node: Node, variables: Record<string, string>): string | boolean | null {
  switch (node.kind) {
    case 'variable':
      return Object.hasOwn(variables, node.name) ? variables[node.name]! : null;
    case 'string':
      return node.value;
    case 'null':
      return null;
    case 'cmp': {
      const same = model(node.left, variables) === model(node.right, variables);
      return node.op === '==' ? same : !same;
    }
    case 'match': {
      const left = model(node.left, variables);
      const text = left === null ? '' : String(left);
      const matched = new RegExp(node.pattern).test(text);
      return node.op === '=~' ? matched : !matched;
    }
    case 'logic': {
      const left = model(node.left, variables);
      const truthy = left !== null && left !== false;
      if (node.op === '&&') return truthy ? model(node.right, variables) : left;
      return truthy ? left : model(node.right, variables);
    }
  }
}

const variablesArbitrary = fc.record(
  {
    A: fc.constantFrom('a', 'b', 'main', ''),
    B: fc.constantFrom('a', 'b', ''),
    C: fc.constantFrom('main', 'x'),
    EMPTY: fc.constant(''),
  },
  { requiredKeys: ['EMPTY'] },
) as fc.Arbitrary<Record<string, string>>;

describe('rule expressions: properties', () => {
  it('evaluates every well-formed expression as the reference model does', () => {
    fc.assert(
      fc.property(tree, variablesArbitrary, (node, variables) => {
        const value = model(node, variables);
        const expected = value !== null && value !== false && value !== '';
        assert.equal(check(printFull(node), variables), expected);
      }),
      { numRuns: 400 },
    );
  });

  it('gives the same answer with minimal parentheses (precedence: && over ||, left-associative)', () => {
    fc.assert(
      fc.property(tree, variablesArbitrary, (node, variables) => {
        assert.equal(check(printMinimal(node), variables), check(printFull(node), variables));
      }),
      { numRuns: 400 },
    );
  });

  it('makes =~ and !~, == and != exact complements', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 20 }),
        fc.constantFrom('^a', 'b+', '[0-9]', '.*', 'x|y'),
        fc.string(),
        (value, pattern, other) => {
          const variables = { V: value, W: other };
          assert.notEqual(check(`$V =~ /${pattern}/`, variables), check(`$V !~ /${pattern}/`, variables));
          assert.notEqual(check('$V == $W', variables), check('$V != $W', variables));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary text, and answers a message when it refuses', () => {
    const alphabet = fc.constantFrom(
      '$',
      'A',
      '_',
      ' ',
      '"',
      "'",
      '/',
      '\\',
      '(',
      ')',
      '=',
      '!',
      '~',
      '&',
      '|',
      'n',
      'u',
      'l',
      'i',
      '{',
      '}',
      '\n',
      '*',
      '+',
      '?',
      '[',
      ']',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 80 }),
          fc.array(alphabet, { maxLength: 80 }).map((chars) => chars.join('')),
        ),
        (text) => {
          const result = parseExpression(text);
          if (result.ok) evaluateExpression(result.expression, { A: 'x', A_: '' });
          else assert.ok(result.message.length > 0);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
