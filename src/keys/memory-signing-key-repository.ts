import type { SigningKeyChanges, SigningKeyRecord, SigningKeyRepository } from './signing-key-record.js';

/**
 * In-memory {@link SigningKeyRepository} for tests, benchmarks and one-shot commands.
 * Transactions are serialised and roll back on failure, like the SQL implementations.
 */
export class MemorySigningKeyRepository implements SigningKeyRepository {
  #records: SigningKeyRecord[] = [];
  #queue: Promise<unknown> = Promise.resolve();

  /** Starts with copies of `records` (for example to simulate a second node on the same data). */
  constructor(records: readonly SigningKeyRecord[] = []) {
    this.#records = records.map(copy);
  }

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    return this.#records.map(copy);
  }

  async insertSigningKey(record: SigningKeyRecord): Promise<void> {
    if (this.#records.some((existing) => existing.kid === record.kid)) {
      throw new TypeError(`signing key ${record.kid} exists already`);
    }
    this.#records.push(copy(record));
  }

  async updateSigningKey(kid: string, changes: SigningKeyChanges): Promise<void> {
    const index = this.#records.findIndex((existing) => existing.kid === kid);
    const existing = this.#records[index];
    if (!existing) throw new TypeError(`signing key ${kid} does not exist`);
    this.#records[index] = { ...existing, ...changes };
  }

  async transaction<T>(fn: (repository: SigningKeyRepository) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const snapshot = this.#records.map(copy);
      try {
        return await fn(this);
      } catch (error) {
        this.#records = snapshot;
        throw error;
      }
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }
}

function copy(record: SigningKeyRecord): SigningKeyRecord {
  return { ...record, publicJwk: { ...record.publicJwk } };
}
