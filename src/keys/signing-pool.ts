import { type KeyObject, sign } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from './algorithms.js';
import type { Signer } from './signer.js';

/**
 * The worker's code (plain CommonJS, so it runs the same from `src/` through tsx, from `dist/`
 * and from the CLI bundle). It signs with `node:crypto` `sign`, exactly as the in-thread signer;
 * keys arrive as `KeyObject`s (cloned by `postMessage`, never exported), once per `kid`. Inputs
 * arrive in batches (one message, the inputs back to back in one transferred buffer); each
 * signature goes back on its own as soon as it is made, so the first answers do not wait for the
 * last signature of the batch.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { sign } = require('node:crypto');
const keys = new Map();
parentPort.on('message', (message) => {
  if (message.key) {
    keys.set(message.kid, message.dsaEncoding ? { key: message.key, dsaEncoding: message.dsaEncoding } : message.key);
    return;
  }
  const bytes = new Uint8Array(message.buffer);
  let offset = 0;
  for (const job of message.jobs) {
    const data = bytes.subarray(offset, offset + job.length);
    offset += job.length;
    try {
      const signature = sign(job.hash, data, keys.get(job.kid));
      parentPort.postMessage({ id: job.id, signature }, [signature.buffer]);
    } catch (error) {
      parentPort.postMessage({ id: job.id, error: String(error && error.message) });
    }
  }
});
`;

/** One signature waiting to be sent to a worker. */
interface QueuedJob {
  id: number;
  kid: string;
  hash: string;
  data: Uint8Array;
}

interface PoolWorker {
  readonly worker: Worker;
  readonly keys: Set<string>;
  /** Signatures sent or queued and not yet answered. */
  inFlight: number;
  /** Signatures of this event-loop turn, sent together at its end. */
  queue: QueuedJob[];
}

interface Pending {
  resolve: (signature: Uint8Array) => void;
  reject: (error: Error) => void;
  entry: PoolWorker;
}

/**
 * A few worker threads that sign JWS inputs, so RSA signatures (about 1 ms of CPU each) use the
 * machine's other cores instead of blocking the event loop that answers every request. Each
 * request goes to the worker with the fewest signatures in flight. The signatures asked for in
 * one turn of the event loop go to each worker in one message at the end of the turn: a
 * `postMessage` per signature (a copy and a wake-up of the worker each) was 13 % of the event
 * loop's time under 16 concurrent token requests. Workers are unref'd: an idle pool keeps no
 * process alive; {@link close} ends them.
 */
export class SigningPool {
  readonly #workers: PoolWorker[] = [];
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #flushScheduled = false;

  constructor(size: number) {
    for (let index = 0; index < size; index += 1) {
      const entry: PoolWorker = {
        worker: new Worker(WORKER_SOURCE, { eval: true }),
        keys: new Set(),
        inFlight: 0,
        queue: [],
      };
      entry.worker.unref();
      entry.worker.on('message', (message: { id: number; signature?: Uint8Array; error?: string }) => {
        const pending = this.#pending.get(message.id);
        if (!pending) return;
        this.#pending.delete(message.id);
        entry.inFlight -= 1;
        if (message.signature) pending.resolve(Buffer.from(message.signature));
        else pending.reject(new Error(`signing failed: ${message.error ?? 'unknown error'}`));
      });
      entry.worker.on('error', (error) => {
        // A dead worker fails what it holds; later signatures go to the others, or in-thread.
        const at = this.#workers.indexOf(entry);
        if (at >= 0) this.#workers.splice(at, 1);
        for (const [id, pending] of this.#pending) {
          if (pending.entry !== entry) continue;
          this.#pending.delete(id);
          pending.reject(error);
        }
      });
      this.#workers.push(entry);
    }
  }

  /** A {@link Signer} for `privateKey` that signs in the pool (in this thread when the pool is empty). */
  signer(kid: string, alg: SigningAlgorithm, privateKey: KeyObject): Signer {
    const spec = SIGNING_ALGORITHMS[alg];
    const local = spec.dsaEncoding ? { key: privateKey, dsaEncoding: spec.dsaEncoding } : privateKey;
    return Object.freeze({
      kid,
      alg,
      sign: (data: Uint8Array): Uint8Array | Promise<Uint8Array> => {
        const target = this.#leastBusy();
        if (!target) return sign(spec.hash, data, local);
        if (!target.keys.has(kid)) {
          target.worker.postMessage({ kid, key: privateKey, dsaEncoding: spec.dsaEncoding });
          target.keys.add(kid);
        }
        const id = this.#nextId++;
        return new Promise<Uint8Array>((resolve, reject) => {
          this.#pending.set(id, { resolve, reject, entry: target });
          target.inFlight += 1;
          // A copy: the input goes out at the end of the turn, and the caller may reuse its buffer before.
          target.queue.push({ id, kid, hash: spec.hash, data: new Uint8Array(data) });
          if (!this.#flushScheduled) {
            this.#flushScheduled = true;
            setImmediate(() => this.#flush());
          }
        });
      },
    });
  }

  /** Ends the workers. */
  async close(): Promise<void> {
    const workers = this.#workers.splice(0);
    await Promise.all(workers.map((entry) => entry.worker.terminate()));
  }

  /** Sends each worker its queued inputs: one message, the inputs copied into one transferred buffer. */
  #flush(): void {
    this.#flushScheduled = false;
    for (const entry of this.#workers) {
      if (entry.queue.length === 0) continue;
      const jobs = entry.queue;
      entry.queue = [];
      let total = 0;
      for (const job of jobs) total += job.data.byteLength;
      const bytes = new Uint8Array(total);
      let offset = 0;
      for (const job of jobs) {
        bytes.set(job.data, offset);
        offset += job.data.byteLength;
      }
      entry.worker.postMessage(
        {
          buffer: bytes.buffer,
          jobs: jobs.map((job) => ({
            id: job.id,
            kid: job.kid,
            hash: job.hash,
            length: job.data.byteLength,
          })),
        },
        [bytes.buffer],
      );
    }
  }

  #leastBusy(): PoolWorker | undefined {
    let best: PoolWorker | undefined;
    for (const entry of this.#workers) if (!best || entry.inFlight < best.inFlight) best = entry;
    return best;
  }
}
