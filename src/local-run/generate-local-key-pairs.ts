import type { SigningAlgorithm } from '../keys/algorithms.js';
import { generateSigningKeyPair, type SigningKeyPair } from '../keys/generate-signing-key.js';

/** The lineages an embedded instance signs with (as `tessera serve`). */
const ALGORITHMS: readonly SigningAlgorithm[] = ['RS256', 'ES256'];

/** The key pairs of a local run's four keys, each with the state it gets. */
export type LocalKeyPairs = ReadonlyArray<{
  readonly state: 'current' | 'next';
  readonly pair: SigningKeyPair;
}>;

/**
 * Starts generating the four key pairs of an embedded instance (a `current` and a `next` of each
 * lineage) at once on the thread pool. This file is light to import, so `tessera run` calls it before it loads
 * the coordinator's modules: the two RSA-2048 generations and the loading then overlap.
 */
export function generateLocalKeyPairs(): Promise<LocalKeyPairs> {
  return Promise.all(
    ALGORITHMS.flatMap((alg) =>
      (['current', 'next'] as const).map(async (state) => ({
        state,
        pair: await generateSigningKeyPair(alg),
      })),
    ),
  );
}
