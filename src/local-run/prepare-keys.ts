import type { SigningAlgorithm } from '../keys/algorithms.js';
import { generateSigningKey } from '../keys/generate-signing-key.js';
import { loadKeyEncryptionKey } from '../keys/key-encryption.js';
import { openStore } from '../store/open-store.js';
import { repositories } from '../store/repositories.js';

/** The lineages an embedded instance signs with (as `tessera serve`). */
const ALGORITHMS: readonly SigningAlgorithm[] = ['RS256', 'ES256'];

/**
 * Puts a `current` and a `next` key of each algorithm into a fresh data directory's store before
 * the coordinator starts, generating all four at once on the thread pool. The coordinator's own
 * start-up (`Keyring.ensureKeys`) then finds them and generates nothing; it would generate them
 * one after the other, and two RSA-2048 key generations in a row are most of a local run's
 * start-up time. Keys are the coordinator's usual ones: sealed with the data directory's
 * key-encryption key, named by thumbprint, never leaving the temporary directory.
 */
export async function prepareKeys(dataDir: string): Promise<void> {
  const kek = await loadKeyEncryptionKey({ env: {}, dataDir });
  const now = Date.now();
  const generated = Promise.all(
    ALGORITHMS.flatMap((alg) =>
      (['current', 'next'] as const).map((state) => generateSigningKey({ alg, kek: kek.key, state, now })),
    ),
  );
  const store = await openStore({ database: '', dataDir });
  try {
    const keys = await generated;
    await store.transaction(async (tx) => {
      for (const key of keys) await repositories(tx).signingKeys.insertSigningKey(key.record);
    });
  } finally {
    await store.close();
  }
}
