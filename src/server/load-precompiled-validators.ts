import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { PrecompiledValidators, RequestValidator } from './precompiled-validator-factory.js';

/** What the generated module exports (see `renderValidatorsModule`). */
interface GeneratedValidatorsModule {
  runtimeModules: readonly string[];
  validators: Readonly<Record<string, number>>;
  factories: readonly ((module: { exports: unknown }, require: (id: string) => unknown) => void)[];
}

function isGeneratedValidatorsModule(value: unknown): value is GeneratedValidatorsModule {
  const module = value as Partial<GeneratedValidatorsModule> | null;
  return (
    typeof module === 'object' &&
    module !== null &&
    Array.isArray(module.runtimeModules) &&
    module.runtimeModules.every((id) => typeof id === 'string') &&
    typeof module.validators === 'object' &&
    module.validators !== null &&
    Array.isArray(module.factories) &&
    module.factories.every((factory) => typeof factory === 'function')
  );
}

/**
 * Loads the request validators generated at build time (`scripts/build-validators.mjs` writes
 * `dist/validators/validators.cjs`) from `file`, for `precompiledValidatorFactory`. Answers
 * `undefined` when there is no such file (running from `src/` through tsx) or it cannot be loaded:
 * the server then compiles its validators as it would without one. A validator's code is run on the
 * first look-up of its name; the Ajv runtime helpers it requires are loaded here, so that a
 * missing one means no precompiled validators rather than a failing request.
 */
export function loadPrecompiledValidators(file: string): PrecompiledValidators | undefined {
  if (!existsSync(file)) return undefined;
  let generated: unknown;
  let runtime: Map<string, unknown>;
  try {
    const requireHere = createRequire(import.meta.url);
    generated = requireHere(file);
    if (!isGeneratedValidatorsModule(generated)) return undefined;
    // The helpers must be those of the Ajv that generated the code: the one Fastify's compiler
    // (`@fastify/ajv-compiler`, our dependency) uses, wherever npm placed it.
    const requireFromCompiler = createRequire(requireHere.resolve('@fastify/ajv-compiler'));
    runtime = new Map(generated.runtimeModules.map((id) => [id, requireFromCompiler(id)]));
  } catch {
    return undefined;
  }
  const { validators, factories } = generated;
  const requireRuntime = (id: string): unknown => {
    if (!runtime.has(id))
      throw new TypeError(`a precompiled validator requires ${id}, which it did not declare`);
    return runtime.get(id);
  };
  const made = new Map<number, RequestValidator>();
  return {
    get(key) {
      if (!Object.hasOwn(validators, key)) return undefined;
      const index = validators[key];
      const factory = index === undefined ? undefined : factories[index];
      if (index === undefined || factory === undefined) return undefined;
      let validator = made.get(index);
      if (validator === undefined) {
        const module: { exports: unknown } = { exports: undefined };
        factory(module, requireRuntime);
        if (typeof module.exports !== 'function') return undefined;
        validator = module.exports as RequestValidator;
        made.set(index, validator);
      }
      return validator;
    },
  };
}
