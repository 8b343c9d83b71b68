import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { Keyring } from '../keys/keyring.js';
import { MemorySigningKeyRepository } from '../keys/memory-signing-key-repository.js';
import { openStore } from '../store/open-store.js';
import { buildServer } from './build-server.js';
import { renderValidatorsModule } from './render-validators-module.js';

/**
 * Generates the request validators of every route of the real server, for
 * `dist/validators/validators.cjs` (`scripts/build-validators.mjs`): builds the server as
 * {@link buildServer} always does, on a throwaway SQLite store and an in-memory keyring (nothing is
 * read or written; the routes need them to be built), with the standalone validator compiler, so
 * that every validator is compiled with the server's own Ajv options, and answers the module's text
 * (see {@link renderValidatorsModule}). The configuration is the default one: no route's schema
 * depends on it, and should one come to, the server compiles that route's validator instead.
 */
export async function generatePrecompiledValidators(): Promise<string> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-validators-'));
  try {
    const config = loadConfig({ dataDir, logLevel: 'silent' }, {});
    const store = await openStore({ database: '', dataDir });
    try {
      const keyring = new Keyring({
        repository: new MemorySigningKeyRepository(),
        kek: randomBytes(32),
        jwksCachePeriod: config.jwksCachePeriod,
        maxTokenLifetime: config.tokenMaxLifetime,
      });
      const codes = new Map<string, string>();
      const { app } = buildServer(config, {
        store,
        keyring,
        storeValidatorCode: (key, code) => codes.set(key, code),
      });
      await app.ready();
      await app.close();
      return renderValidatorsModule(codes);
    } finally {
      await store.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
