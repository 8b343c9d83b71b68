import { sealSigningKey } from '../keys/generate-signing-key.js';
import { loadKeyEncryptionKey } from '../keys/key-encryption.js';
import { openStore } from '../store/open-store.js';
import { repositories } from '../store/repositories.js';
import { generateLocalKeyPairs, type LocalKeyPairs } from './generate-local-key-pairs.js';

/**
 * Puts a `current` and a `next` key of each algorithm into a fresh data directory's store before
 * the coordinator starts, generating all four at once on the thread pool (or taking `pairs`, from
 * {@link generateLocalKeyPairs}, started earlier). The coordinator's own start-up
 * (`Keyring.ensureKeys`) then finds them and generates nothing; it would generate them one after
 * the other, and two RSA-2048 key generations in a row are most of a local run's start-up time.
 * Keys are the coordinator's usual ones: sealed with the data directory's key-encryption key,
 * named by thumbprint, never leaving the temporary directory.
 */
export async function prepareKeys(dataDir: string, pairs?: Promise<LocalKeyPairs>): Promise<void> {
  const generated = pairs ?? generateLocalKeyPairs();
  // Settled here too: an early failure must not surface as an unhandled rejection while the store opens.
  generated.catch(() => undefined);
  const kek = await loadKeyEncryptionKey({ env: {}, dataDir });
  const store = await openStore({ database: '', dataDir });
  try {
    const now = Date.now();
    const keys = (await generated).map(({ state, pair }) =>
      sealSigningKey(pair, { kek: kek.key, state, now }),
    );
    await store.transaction(async (tx) => {
      for (const key of keys) await repositories(tx).signingKeys.insertSigningKey(key.record);
    });
  } finally {
    await store.close();
  }
}
