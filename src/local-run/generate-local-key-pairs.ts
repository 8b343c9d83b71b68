import type { SigningAlgorithm } from '../keys/algorithms.js';
import { generateSigningKeyPair } from '../keys/generate-signing-key.js';
import type { PendingKeyPairs } from '../keys/keyring.js';

/** The lineages an embedded instance signs with (as `tessera serve`). */
const ALGORITHMS: readonly SigningAlgorithm[] = ['RS256', 'ES256'];

/**
 * Generates the signing keys of an embedded instance at once on the thread pool: a `current` key
 * per lineage and no `next` one, since an instance that lives for one run never rotates. The
 * coordinator calls it when a key is first needed (`Keyring.adopt`).
 */
export function generateLocalKeyPairs(): PendingKeyPairs {
  return Promise.all(
    ALGORITHMS.map(async (alg) => ({ state: 'current' as const, pair: await generateSigningKeyPair(alg) })),
  );
}
