import AjvCompiler from '@fastify/ajv-compiler';
import { refuseHeadersSchema } from './precompiled-validator-factory.js';
import { type ValidatedRoutePart, validatorKeys } from './validator-key.js';

/**
 * Fastify's `schemaController.compilersFactory.buildValidator` for the build step that generates
 * the precompiled validators: it compiles every route part as Fastify's own compiler does, with
 * the server's Ajv options, and hands `store` the part's {@link validatorKeys} name and the Ajv
 * standalone code of its validator (a CommonJS module whose `module.exports` is the function),
 * through `@fastify/ajv-compiler`'s `StandaloneValidator` in write mode. A part whose schema has
 * no name (see {@link validatorKeys}) is compiled but not stored.
 */
export function standaloneValidatorFactory(
  store: (key: string, code: string) => void,
): AjvCompiler.ValidatorFactory {
  return (externalSchemas, options) => {
    const keyOf = validatorKeys(externalSchemas, options);
    let key: string | undefined;
    const compile = AjvCompiler.StandaloneValidator({
      readMode: false,
      storeFunction: (_part, code) => {
        if (key !== undefined) store(key, code);
      },
      // A copy: StandaloneValidator sets `customOptions.code.source` on the options object it is given.
    })(externalSchemas, { ...options });
    return (part: ValidatedRoutePart) => {
      refuseHeadersSchema(part);
      // Named before compiling: the name must be that of the schema as the running server sees it.
      key = keyOf(part);
      return compile(part);
    };
  };
}
