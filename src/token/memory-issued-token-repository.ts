import type { IssuedTokenRecord, IssuedTokenRepository } from './issued-token-record.js';

/** In-memory {@link IssuedTokenRepository} for tests, benchmarks and one-shot commands. */
export class MemoryIssuedTokenRepository implements IssuedTokenRepository {
  /** Every recorded entry, oldest first. */
  readonly records: IssuedTokenRecord[] = [];

  async recordIssuedToken(record: IssuedTokenRecord): Promise<void> {
    this.records.push({ ...record, aud: [...record.aud] });
  }
}
