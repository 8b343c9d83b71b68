import { createHash } from 'node:crypto';
import type AjvCompiler from '@fastify/ajv-compiler';

/** What Fastify hands a validator compiler for one part (body, querystring, params) of one route. */
export type ValidatedRoutePart = AjvCompiler.RouteDefinition & { contentType?: string };

/** Fastify's `ajv` server option, as it hands it to a validator factory. */
export type ValidatorCompilerOptions = Parameters<AjvCompiler.ValidatorFactory>[1];

/**
 * Answers the function that names the validator of a route part for one validator compiler: the
 * route's method, URL and HTTP part (and content type), then the sha256 of a stable serialization
 * of the part's schema together with everything else that decides what the compiled validator
 * checks, the Ajv options and the shared schemas a `$ref` may reach (`externalSchemas`). A validator
 * generated at build time is used only under its own name, so a stale generated file can never
 * validate with an old schema or old options: the route compiles instead. The name is `undefined`
 * for a schema that JSON cannot represent faithfully (a function, a RegExp), which always compiles.
 *
 * `code` (Ajv's code generation settings) and `validateSchema` (the meta-schema check) are left
 * out: they change how a validator is made, not what it checks. Ajv plugins are left out too:
 * Tessera's one plugin, `compileOnFirstUse`, changes only when a validator is compiled.
 */
export function validatorKeys(
  externalSchemas: Readonly<Record<string, unknown>>,
  options: ValidatorCompilerOptions,
): (part: ValidatedRoutePart) => string | undefined {
  const { code: _code, validateSchema: _validateSchema, ...ajvOptions } = options?.customOptions ?? {};
  const context = stableJson({ ajvOptions, externalSchemas });
  const hashOf = (schema: unknown): string | undefined => {
    const json = context === undefined ? undefined : stableJson(schema);
    return json === undefined
      ? undefined
      : createHash('sha256').update(`${context}\n${json}`).digest('base64url');
  };
  // Routes share schema objects (the `:id` params, a GET route and its HEAD twin): each is hashed
  // once, as Ajv compiles each schema object once.
  const hashes = new WeakMap<object, string | undefined>();
  return (part) => {
    const { schema } = part;
    const shared = typeof schema === 'object' && schema !== null;
    const hash = shared && hashes.has(schema) ? hashes.get(schema) : hashOf(schema);
    if (shared) hashes.set(schema, hash);
    if (hash === undefined) return undefined;
    const contentType = part.contentType === undefined ? [] : [part.contentType];
    return [String(part.method), part.url, part.httpPart, ...contentType, hash].join(' ');
  };
}

/**
 * JSON with every object's keys sorted, so that equal schemas serialize alike however
 * their objects were built; `undefined` when the value holds something JSON would drop or change
 * (a function, a RegExp, a Date, `undefined` in an array, a non-finite number).
 */
function stableJson(value: unknown): string | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : undefined;
  if (Array.isArray(value)) {
    const items: string[] = [];
    for (const item of value) {
      const json = stableJson(item);
      if (json === undefined) return undefined;
      items.push(json);
    }
    return `[${items.join(',')}]`;
  }
  if (typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return undefined;
  const members: string[] = [];
  for (const key of Object.keys(value).sort()) {
    const member = (value as Record<string, unknown>)[key];
    // JSON.stringify drops an undefined member; so does Ajv, which never sees it as a keyword.
    if (member === undefined) continue;
    const json = stableJson(member);
    if (json === undefined) return undefined;
    members.push(`${JSON.stringify(key)}:${json}`);
  }
  return `{${members.join(',')}}`;
}
