import { EventEmitter } from 'node:events';
import type { ArtifactStore } from '../artifacts/artifact-store.js';
import { createArtifactStore } from '../artifacts/create-artifact-store.js';
import type { TesseraConfig } from '../config/defaults.js';
import type { Keyring } from '../keys/keyring.js';
import type { Store } from '../store/open-store.js';
import { type Repositories, repositories } from '../store/repositories.js';
import { BatchedIssuedTokenAudit } from '../token/batched-audit.js';
import { TokenIssuer } from '../token/issue.js';
import { startBridgeJobs } from './start-bridge-jobs.js';

/**
 * The public URLs of the coordinator. Mutable because a server bound to port 0 learns its port
 * only after it listens (tests, the embedded runner); everything reads them at request time.
 */
export interface CoordinatorUrls {
  /** The issuer, byte for byte the tokens' `iss` and the discovery `issuer`. */
  issuer: string;
  /** `CI_SERVER_URL`: where runners and jobs reach the API (`<serverUrl>/api/v4/…`). */
  serverUrl: string;
}

/** What a {@link Coordinator} is built from. */
export interface CoordinatorOptions {
  config: TesseraConfig;
  store: Store;
  keyring: Keyring;
  urls: CoordinatorUrls;
  clock?: () => number;
  /** Where artifacts live; default from `artifactsStore` (the filesystem under the data directory). */
  artifactStore?: ArtifactStore;
}

/**
 * The coordinator's shared state: configuration, store, keys, the token issuer and the in-process
 * signal that wakes long-polling runners. The operations live one per file in this folder and
 * take a coordinator as their first argument.
 */
export class Coordinator {
  readonly config: TesseraConfig;
  readonly store: Store;
  readonly keyring: Keyring;
  readonly urls: CoordinatorUrls;
  readonly clock: () => number;
  /**
   * Emits `jobs` when a job may have become pending, so waiting `jobs/request` calls retry at once,
   * and `job-finished` when a running job ended, so an in-process follower (`tessera run`) looks at once.
   */
  readonly events = new EventEmitter();
  #issuer: { issuer: string; instance: TokenIssuer } | undefined;
  #repos: Repositories | undefined;
  #artifactStore: ArtifactStore | undefined;
  /** Audit rows of tokens minted together are written together, each mint waiting for its row. */
  readonly #audit = new BatchedIssuedTokenAudit((records) =>
    this.repos.issuedTokens.recordIssuedTokens(records),
  );

  constructor(options: CoordinatorOptions) {
    this.config = options.config;
    this.store = options.store;
    this.keyring = options.keyring;
    this.urls = options.urls;
    this.clock = options.clock ?? Date.now;
    this.#artifactStore = options.artifactStore;
    // Every long poll listens; the default cap of 10 would warn under ordinary load.
    this.events.setMaxListeners(0);
    // A bridge (`trigger:`) job that became pending is the coordinator's own to start. A sweep
    // that fails (the store closing at shutdown) leaves its bridges pending for the next one.
    this.events.on('jobs', () => {
      startBridgeJobs(this).catch(() => undefined);
    });
  }

  /** Repositories on the store (outside any transaction). */
  get repos(): Repositories {
    this.#repos ??= repositories(this.store.db);
    return this.#repos;
  }

  /** The artifact store (made on first use, so a coordinator that never sees artifacts makes no directory). */
  get artifactStore(): ArtifactStore {
    this.#artifactStore ??= createArtifactStore(this.config, process.env);
    return this.#artifactStore;
  }

  /** The token issuer for the current issuer URL. */
  get tokenIssuer(): TokenIssuer {
    if (this.#issuer?.issuer !== this.urls.issuer) {
      this.#issuer = {
        issuer: this.urls.issuer,
        instance: new TokenIssuer({
          issuer: this.urls.issuer,
          keyring: this.keyring,
          audit: this.#audit,
          clock: this.clock,
          maxLifetime: this.config.tokenMaxLifetime,
        }),
      };
    }
    return this.#issuer.instance;
  }

  /** Counters for `/metrics`, since this process started. */
  readonly counters = {
    tokensIssued: { 'pre-issued': 0, 'on-demand': 0 } as Record<'pre-issued' | 'on-demand', number>,
    jobsClaimed: 0,
    leasesExpired: 0,
  };

  /** Set when the server shuts down: waiting `jobs/request` calls answer 204 at once. */
  stopping = false;

  /** Ends every long poll now (before the server closes, so shutdown does not wait for them). */
  stop(): void {
    this.stopping = true;
    this.events.emit('jobs');
  }

  /** Wakes waiting runners: a job may be pending now. */
  notifyJobs(): void {
    this.events.emit('jobs');
  }

  /** Tells in-process followers that a running job ended (see {@link events}). */
  notifyJobFinished(): void {
    this.events.emit('job-finished');
  }
}
