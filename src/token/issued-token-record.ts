import type { SigningAlgorithm } from '../keys/algorithms.js';

/** How a token reached its job (DESIGN 3.4). */
export type IssuedVia = 'pre-issued' | 'on-demand';

/** The audit entry of one minted token. Never the token itself. Times are Unix seconds, as in the token. */
export interface IssuedTokenRecord {
  jti: string;
  projectId: number;
  pipelineId: number;
  jobId: number;
  aud: string[];
  sub: string;
  kid: string;
  alg: SigningAlgorithm;
  iat: number;
  exp: number;
  issuedVia: IssuedVia;
}

/** Where the audit of issued tokens goes; the coordinator stores it in its database. */
export interface IssuedTokenRepository {
  recordIssuedToken(record: IssuedTokenRecord): Promise<void>;
}
