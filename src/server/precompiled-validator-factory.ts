import AjvCompiler from '@fastify/ajv-compiler';
import { type ValidatedRoutePart, validatorKeys } from './validator-key.js';

/** A request validator: a function Ajv compiled, or one its standalone code defines. */
export type RequestValidator = ReturnType<AjvCompiler.ValidatorCompiler>;

/**
 * Request validators generated at build time, by their {@link validatorKeys} name (see
 * `loadPrecompiledValidators`; a `Map` will do in tests).
 */
export interface PrecompiledValidators {
  get(key: string): RequestValidator | undefined;
}

/**
 * Fastify's `schemaController.compilersFactory.buildValidator` for a server that has validators
 * generated at build time: a route part whose name (method, URL, HTTP part and the hash of its
 * schema and Ajv options) is among `precompiled` gets that validator; any other compiles as it
 * would without this factory, with Fastify's own compiler and the server's Ajv options and plugins
 * (so on its first call under `compileOnFirstUse`). That compiler and its Ajv instance are made
 * only when a part needs them.
 */
export function precompiledValidatorFactory(
  precompiled: PrecompiledValidators,
): AjvCompiler.ValidatorFactory {
  const compilers = AjvCompiler();
  return (externalSchemas, options) => {
    const keyOf = validatorKeys(externalSchemas, options);
    let compile: AjvCompiler.ValidatorCompiler | undefined;
    return (part: ValidatedRoutePart) => {
      refuseHeadersSchema(part);
      const key = keyOf(part);
      const validator = key === undefined ? undefined : precompiled.get(key);
      if (validator) return calledWithParent(validator);
      compile ??= compilers(externalSchemas, options);
      return compile(part);
    };
  };
}

// What a precompiled validator carries as `schemaEnv`; Fastify only asks whether there is one.
const PRECOMPILED_SCHEMA_ENV = Object.freeze({ precompiled: true });

/**
 * Fastify calls a validator with the request as the parent of the value it checks (so that Ajv's
 * coercion can replace the value itself: `5` by `[5]`, `""` by `null`) only when the function has
 * Ajv's `schemaEnv`, which a standalone one lacks. Giving it one makes Fastify call it exactly as
 * it calls the function Ajv compiles from the same schema.
 */
function calledWithParent(validator: RequestValidator): RequestValidator {
  if (!('schemaEnv' in validator)) {
    Object.defineProperty(validator, 'schemaEnv', { value: PRECOMPILED_SCHEMA_ENV });
  }
  return validator;
}

/**
 * Throws for a headers schema. Fastify lower-cases the property names of a headers schema before
 * handing it to its own compiler but hands it unchanged to a custom one (as the precompiled and the
 * standalone factories are), which would then check `Job-Token` where the request has `job-token`.
 * No route has one; should one appear, the build step fails here rather than validate differently.
 */
export function refuseHeadersSchema(part: ValidatedRoutePart): void {
  if (part.httpPart === 'headers') {
    throw new TypeError(
      `${String(part.method)} ${part.url}: a headers schema cannot be precompiled (Fastify lower-cases its names only for its own compiler)`,
    );
  }
}
