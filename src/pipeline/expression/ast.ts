import type { RE2JS } from 're2js';

/** A comparison or logical operator of GitLab's rule expressions. */
export type Operator = '==' | '!=' | '=~' | '!~' | '&&' | '||';

/** A compiled `/pattern/flags` literal; `regex` is an RE2 program (linear time). */
export interface CompiledPattern {
  /** The pattern as written between the slashes, with `\/` turned into `/`. */
  readonly source: string;
  /** Flags as written after the closing slash (`i`, `m`, `s`, `U`). */
  readonly flags: string;
  readonly regex: RE2JS;
}

/** A parsed rule expression (`if:` of `rules` and `workflow:rules`, `only:variables`). */
export type Expression =
  | { readonly kind: 'variable'; readonly name: string }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'null' }
  | { readonly kind: 'pattern'; readonly pattern: CompiledPattern }
  | { readonly kind: 'binary'; readonly op: Operator; readonly left: Expression; readonly right: Expression };
