import type { IssuedTokenRecord } from './issued-token-record.js';

/** Largest batch written at once (well under PostgreSQL's 65,535 bind parameters at 11 per row). */
const MAX_BATCH = 256;

interface Waiting {
  record: IssuedTokenRecord;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for the token audit: the rows of tokens minted in the same turn of the event loop
 * are written in one statement, and each mint's promise settles only when its row is stored, so
 * a token is never answered before its audit row is durable (a crash loses no row of a token
 * anyone received). A failed write fails every mint of its batch.
 */
export class BatchedIssuedTokenAudit {
  #queue: Waiting[] = [];
  #scheduled = false;

  constructor(private readonly write: (records: IssuedTokenRecord[]) => Promise<void>) {}

  /** Queues `record` for the next batch; resolves once it is written. */
  recordIssuedToken(record: IssuedTokenRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ record, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, MAX_BATCH);
      this.write(batch.map((waiting) => waiting.record)).then(
        () => {
          for (const waiting of batch) waiting.resolve();
        },
        (error: unknown) => {
          for (const waiting of batch) waiting.reject(error);
        },
      );
    }
  }
}
