import type { SigningAlgorithm } from '../keys/algorithms.js';
import { generateSigningKeyPair } from '../keys/generate-signing-key.js';
import type { PendingKeyPairs } from '../keys/keyring.js';

/** The lineages an embedded instance signs with (as `tessera serve`). */
const ALGORITHMS: readonly SigningAlgorithm[] = ['RS256', 'ES256'];

/**
 * Starts generating the signing keys of an embedded instance at once on the thread pool: a
 * `current` key per lineage and no `next` one, since an instance that lives for one run never
 * rotates (an RSA-2048 generation takes 0.1–0.6 s of a core here, and the jobs need the cores).
 * This file is light to import, so `tessera run` calls it before it loads the coordinator's
 * modules, and the coordinator stores the keys when they arrive (`Keyring.adopt`).
 */
export function generateLocalKeyPairs(): PendingKeyPairs {
  return Promise.all(
    ALGORITHMS.map(async (alg) => ({ state: 'current' as const, pair: await generateSigningKeyPair(alg) })),
  );
}
