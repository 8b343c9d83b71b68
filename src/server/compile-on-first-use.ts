import type { FastifyServerOptions } from 'fastify';

type AjvPlugin = Extract<
  NonNullable<NonNullable<FastifyServerOptions['ajv']>['plugins']>[number],
  (...args: never[]) => unknown
>;
/** Fastify's Ajv instance (the type as Fastify's options name it; ajv is not our own dependency). */
type Ajv = Parameters<AjvPlugin>[0];
type Validator = ReturnType<Ajv['compile']>;

/**
 * An Ajv plugin (Fastify's `ajv.plugins`) that compiles each route's validator when the route is
 * first called rather than when the server starts. Validation itself is unchanged: the same Ajv
 * instance and options compile the same schema. Meant for a short-lived embedded coordinator
 * (`tessera run`): compiling the validators of every route takes about a third of a second, and a
 * local run calls only a handful of routes. A long-running server should compile at start-up, where
 * a broken schema fails at once.
 */
export function compileOnFirstUse(ajv: Ajv): Ajv {
  const compile = ajv.compile.bind(ajv);
  const compileLater = (schema: Parameters<Ajv['compile']>[0]): Validator => {
    let compiled: Validator | undefined;
    const validate = function (this: unknown, ...args: Parameters<Validator>) {
      compiled ??= compile(schema);
      const valid = compiled.apply(this, args);
      // Fastify reads a failed validation's errors from the function it was given.
      validate.errors = compiled.errors;
      return valid;
    } as Validator;
    return validate;
  };
  ajv.compile = compileLater as Ajv['compile'];
  return ajv;
}
