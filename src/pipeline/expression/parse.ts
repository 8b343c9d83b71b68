import { PIPELINE_LIMITS } from '../limits.js';
import type { Expression, Operator } from './ast.js';
import { compilePattern } from './compile-pattern.js';
import { type Token, tokenize } from './tokenize.js';

/** The result of {@link parseExpression}: an expression, or the reason it is not one. */
export type ParseResult = { ok: true; expression: Expression } | { ok: false; message: string };

const COMPARISONS: ReadonlySet<Operator> = new Set(['==', '!=', '=~', '!~']);

/**
 * Parses a GitLab rule expression. Precedence as GitLab: comparisons (`==`, `!=`, `=~`, `!~`)
 * bind tighter than `&&`, which binds tighter than `||`; all are left-associative; parentheses
 * group. Regular expressions are compiled here (RE2), so a bad pattern is a load-time error.
 * Never throws: recursion is bounded because the token count is.
 */
export function parseExpression(text: string): ParseResult {
  if (text.length > PIPELINE_LIMITS.maxExpressionLength) {
    return {
      ok: false,
      message: `the expression is longer than ${PIPELINE_LIMITS.maxExpressionLength} characters`,
    };
  }
  const tokens = tokenize(text);
  if (!Array.isArray(tokens)) return { ok: false, message: tokens.error };
  if (tokens.length === 0)
    return { ok: false, message: 'the expression is empty; write a condition such as $CI_COMMIT_TAG' };
  const parser = new Parser(tokens);
  const expression = parser.parseOr();
  if (!('kind' in expression)) return { ok: false, message: expression.error };
  const rest = parser.peek();
  if (rest !== undefined) {
    return {
      ok: false,
      message:
        rest.type === 'rparen'
          ? `unbalanced ")" at offset ${rest.offset}`
          : `missing operator before offset ${rest.offset}; join conditions with && or ||`,
    };
  }
  return { ok: true, expression };
}

type Partial = Expression | { error: string };

class Parser {
  private position = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  peek(): Token | undefined {
    return this.tokens[this.position];
  }

  parseOr(): Partial {
    return this.parseLogical('||', () => this.parseLogical('&&', () => this.parseComparison()));
  }

  private parseLogical(op: '&&' | '||', next: () => Partial): Partial {
    let left = next();
    if (!('kind' in left)) return left;
    for (;;) {
      const token = this.peek();
      if (token?.type !== 'operator' || token.op !== op) return left;
      this.position += 1;
      const right = next();
      if (!('kind' in right)) return right;
      left = { kind: 'binary', op, left, right };
    }
  }

  private parseComparison(): Partial {
    let left = this.parsePrimary();
    if (!('kind' in left)) return left;
    for (;;) {
      const token = this.peek();
      if (token?.type !== 'operator' || !COMPARISONS.has(token.op)) return left;
      this.position += 1;
      const right = this.parsePrimary();
      if (!('kind' in right)) return right;
      if ((token.op === '=~' || token.op === '!~') && right.kind !== 'pattern' && right.kind !== 'variable') {
        return {
          error: `${token.op} at offset ${token.offset} needs a /pattern/ or a variable on its right`,
        };
      }
      left = { kind: 'binary', op: token.op, left, right };
    }
  }

  private parsePrimary(): Partial {
    const token = this.peek();
    if (token === undefined) return { error: 'the expression ends where a value was expected' };
    this.position += 1;
    switch (token.type) {
      case 'variable':
        return { kind: 'variable', name: token.name };
      case 'string':
        return { kind: 'string', value: token.value };
      case 'null':
        return { kind: 'null' };
      case 'pattern': {
        const pattern = compilePattern(token.source, token.flags);
        if ('error' in pattern) return { error: pattern.error };
        return { kind: 'pattern', pattern };
      }
      case 'lparen': {
        const inner = this.parseOr();
        if (!('kind' in inner)) return inner;
        const close = this.peek();
        if (close?.type !== 'rparen') return { error: `missing ")" for "(" at offset ${token.offset}` };
        this.position += 1;
        return inner;
      }
      case 'rparen':
        return { error: `unexpected ")" at offset ${token.offset}` };
      case 'operator':
        return { error: `unexpected "${token.op}" at offset ${token.offset}; a value must come before it` };
    }
  }
}
