import type { CompiledPattern, Expression } from './ast.js';
import { compilePattern, splitPatternLiteral } from './compile-pattern.js';

/**
 * Variables an expression sees: one record, or layers from lowest to highest precedence (looked up
 * without merging them, so a job's scope costs nothing however many global variables there are).
 */
export type VariableScope = Readonly<Record<string, string>> | readonly Readonly<Record<string, string>>[];

/** A value during evaluation: Ruby's nil, strings, booleans and patterns, as in GitLab. */
type Value = string | boolean | null | CompiledPattern;

// Patterns that arrive in variable values are compiled once; the cache is bounded.
const variablePatterns = new Map<string, CompiledPattern | null>();
const VARIABLE_PATTERN_CACHE = 256;

/**
 * Evaluates a rule expression against variables, with GitLab's semantics: an unset variable is
 * `null`; `==`/`!=` compare values (so an empty variable is not `null`); `=~`/`!~` match the left
 * side as text (`null` as the empty string) against a pattern, which may also come from a
 * variable whose value is `/…/flags`; `&&` and `||` pick an operand as Ruby does; the statement
 * is true when its value is present (not `null`, `false` or the empty string).
 *
 * One quirk carried over from GitLab: `&&`/`||` test Ruby truthiness, where the empty string is
 * true, so `$EMPTY || $SET` is false while `$SET || $EMPTY` is true.
 */
export function evaluateExpression(expression: Expression, variables: VariableScope): boolean {
  const value = evaluate(expression, variables);
  return value !== null && value !== false && value !== '';
}

function evaluate(expression: Expression, variables: VariableScope): Value {
  switch (expression.kind) {
    case 'variable':
      return lookup(variables, expression.name);
    case 'string':
      return expression.value;
    case 'null':
      return null;
    case 'pattern':
      return expression.pattern;
    case 'binary': {
      const { op } = expression;
      if (op === '&&') {
        const left = evaluate(expression.left, variables);
        return rubyTruthy(left) ? evaluate(expression.right, variables) : left;
      }
      if (op === '||') {
        const left = evaluate(expression.left, variables);
        return rubyTruthy(left) ? left : evaluate(expression.right, variables);
      }
      const left = evaluate(expression.left, variables);
      const right = evaluate(expression.right, variables);
      if (op === '==') return same(left, right);
      if (op === '!=') return !same(left, right);
      const pattern = asPattern(right);
      if (pattern === null) return op === '!~';
      const matched = pattern.regex.matcher(asText(left)).find();
      return op === '=~' ? matched : !matched;
    }
  }
}

function lookup(scope: VariableScope, name: string): string | null {
  if (!Array.isArray(scope)) {
    const record = scope as Readonly<Record<string, string>>;
    return Object.hasOwn(record, name) ? (record[name] ?? null) : null;
  }
  for (let index = scope.length - 1; index >= 0; index -= 1) {
    const layer = scope[index] as Readonly<Record<string, string>>;
    if (Object.hasOwn(layer, name)) return layer[name] ?? null;
  }
  return null;
}

function rubyTruthy(value: Value): boolean {
  return value !== null && value !== false;
}

function same(left: Value, right: Value): boolean {
  if (typeof left === 'object' && left !== null) {
    return (
      typeof right === 'object' &&
      right !== null &&
      left.source === right.source &&
      left.flags === right.flags
    );
  }
  return left === right;
}

function asText(value: Value): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return String(value);
  return `/${value.source}/${value.flags}`;
}

function asPattern(value: Value): CompiledPattern | null {
  if (value === null || typeof value === 'boolean') return null;
  if (typeof value !== 'string') return value;
  const cached = variablePatterns.get(value);
  if (cached !== undefined) return cached;
  const literal = splitPatternLiteral(value);
  const compiled = literal === null ? null : compilePattern(literal.source, literal.flags);
  const pattern = compiled === null || 'error' in compiled ? null : compiled;
  if (variablePatterns.size >= VARIABLE_PATTERN_CACHE) variablePatterns.clear();
  variablePatterns.set(value, pattern);
  return pattern;
}
