import { PIPELINE_LIMITS } from '../limits.js';
import type { Operator } from './ast.js';

/** One lexeme of a rule expression, with its offset for error messages. */
export type Token =
  | { readonly type: 'variable'; readonly name: string; readonly offset: number }
  | { readonly type: 'string'; readonly value: string; readonly offset: number }
  | { readonly type: 'pattern'; readonly source: string; readonly flags: string; readonly offset: number }
  | { readonly type: 'null'; readonly offset: number }
  | { readonly type: 'operator'; readonly op: Operator; readonly offset: number }
  | { readonly type: 'lparen' | 'rparen'; readonly offset: number };

const OPERATORS: readonly Operator[] = ['==', '!=', '=~', '!~', '&&', '||'];

function isWordChar(code: number): boolean {
  return (
    (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95
  );
}

/**
 * Splits a rule expression into lexemes, following GitLab's lexer: `$NAME` variables (word
 * characters), `"…"` or `'…'` strings without escapes, `/…/flags` patterns (where `\/` is a
 * slash), `null`, the six operators and parentheses. At most
 * {@link PIPELINE_LIMITS.maxExpressionTokens} tokens, as GitLab.
 */
export function tokenize(text: string): Token[] | { error: string } {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const char = text[i]!;
    if (char === ' ' || char === '\t' || char === '\n' || char === '\r') {
      i += 1;
      continue;
    }
    if (tokens.length >= PIPELINE_LIMITS.maxExpressionTokens) {
      return {
        error: `the expression has more than ${PIPELINE_LIMITS.maxExpressionTokens} tokens; split the rule`,
      };
    }
    const offset = i;
    if (char === '$') {
      let end = i + 1;
      // `${NAME}` is accepted too: people write it in rules, and it can mean nothing else.
      const braced = text[end] === '{';
      if (braced) end += 1;
      const nameStart = end;
      while (end < text.length && isWordChar(text.charCodeAt(end))) end += 1;
      if (end === nameStart || (braced && text[end] !== '}')) {
        return { error: `a variable name must follow "$" at offset ${offset}; write $NAME` };
      }
      tokens.push({ type: 'variable', name: text.slice(nameStart, end), offset });
      i = braced ? end + 1 : end;
      continue;
    }
    if (char === '"' || char === "'") {
      const end = text.indexOf(char, i + 1);
      if (end < 0)
        return { error: `unterminated string starting at offset ${offset}; close it with ${char}` };
      tokens.push({ type: 'string', value: text.slice(i + 1, end), offset });
      i = end + 1;
      continue;
    }
    if (char === '/') {
      let end = i + 1;
      while (end < text.length && text[end] !== '/') end += text[end] === '\\' ? 2 : 1;
      if (end >= text.length || end === i + 1) {
        return { error: `unterminated regular expression starting at offset ${offset}; write /pattern/` };
      }
      let flagsEnd = end + 1;
      while (flagsEnd < text.length && /[A-Za-z]/.test(text[flagsEnd]!)) flagsEnd += 1;
      tokens.push({
        type: 'pattern',
        source: text.slice(i + 1, end).replaceAll('\\/', '/'),
        flags: text.slice(end + 1, flagsEnd),
        offset,
      });
      i = flagsEnd;
      continue;
    }
    if (char === '(' || char === ')') {
      tokens.push({ type: char === '(' ? 'lparen' : 'rparen', offset });
      i += 1;
      continue;
    }
    const two = text.slice(i, i + 2);
    const op = OPERATORS.find((candidate) => candidate === two);
    if (op !== undefined) {
      tokens.push({ type: 'operator', op, offset });
      i += 2;
      continue;
    }
    if (text.startsWith('null', i) && !isWordChar(text.charCodeAt(i + 4))) {
      tokens.push({ type: 'null', offset });
      i += 4;
      continue;
    }
    const word = /^[^\s()]+/.exec(text.slice(i, i + 40))?.[0] ?? char;
    const hint = /^[A-Za-z_]\w*$/.test(word)
      ? `; write $${word} for a variable or "${word}" for a string`
      : char === '=' || char === '!' || char === '&' || char === '|'
        ? '; operators are ==, !=, =~, !~, && and ||'
        : '';
    return { error: `unexpected "${word}" at offset ${offset}${hint}` };
  }
  return tokens;
}
