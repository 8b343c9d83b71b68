import { randomUUID } from 'node:crypto';
import { TesseraError } from '../errors.js';
import { resolveAlgorithm, SIGNING_ALGORITHMS, type SigningAlgorithm } from '../keys/algorithms.js';
import type { Keyring } from '../keys/keyring.js';
import type { Signer } from '../keys/signer.js';
import { buildClaims, type IdTokenClaims } from './claims.js';
import type { IssuedTokenRepository, IssuedVia } from './issued-token-record.js';
import type { JobTokenContext } from './job-token-context.js';

/** Tokens stay under this many bytes (DESIGN 3.1): some relying parties and headers cap there. */
export const MAX_TOKEN_LENGTH = 4096;
const MAX_AUDIENCES = 32;
const MAX_AUDIENCE_LENGTH = 1024;

/** Options of a {@link TokenIssuer}. */
export interface TokenIssuerOptions {
  /** The issuer URL, byte for byte the discovery `issuer`. */
  issuer: string;
  /** Where signers come from; anything with the keyring's `signer(alg)`. */
  keyring: Pick<Keyring, 'signer'> & Partial<Pick<Keyring, 'cachedSigner'>>;
  audit: IssuedTokenRepository;
  clock?: () => number;
  /** Upper bound on `lifetime`, in seconds (instance `tokenMaxLifetime`). */
  maxLifetime: number;
}

/** One mint request. */
export interface IssueTokenRequest {
  context: JobTokenContext;
  audience: string | string[];
  /** Seconds; a whole number between 1 and the issuer's `maxLifetime`. */
  lifetime: number;
  /** Defaults to RS256. */
  alg?: SigningAlgorithm;
  issuedVia: IssuedVia;
}

/** A minted token and what the caller may log about it (everything but `token`). */
export interface IssuedToken {
  token: string;
  claims: IdTokenClaims;
  kid: string;
  jti: string;
  exp: number;
}

function isAudience(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_AUDIENCE_LENGTH && value.trim() !== '';
}

function validateAudience(audience: unknown): string | string[] {
  if (isAudience(audience)) return audience;
  if (
    Array.isArray(audience) &&
    audience.length > 0 &&
    audience.length <= MAX_AUDIENCES &&
    audience.every(isAudience)
  ) {
    return audience;
  }
  throw new TesseraError(
    'ERR_TOKEN_AUDIENCE_INVALID',
    `aud must be a non-empty string or a list of 1 to ${MAX_AUDIENCES} non-empty strings (each at most ${MAX_AUDIENCE_LENGTH} characters)`,
  );
}

/**
 * Mints ID tokens: header exactly `{alg, kid, typ}`, claims from the job context, signature from
 * the keyring's current key, and one audit record per token. The token itself is never stored.
 */
export class TokenIssuer {
  readonly #issuer: string;
  readonly #keyring: Pick<Keyring, 'signer'> & Partial<Pick<Keyring, 'cachedSigner'>>;
  readonly #audit: IssuedTokenRepository;
  readonly #clock: () => number;
  readonly #maxLifetime: number;
  /** The encoded header of the last signer used: it depends only on the key, which changes at rotation. */
  #header: { signer: Signer; encoded: string } | null = null;

  constructor(options: TokenIssuerOptions) {
    if (typeof options.issuer !== 'string' || options.issuer === '')
      throw new TypeError('TokenIssuer: issuer');
    if (!Number.isSafeInteger(options.maxLifetime) || options.maxLifetime < 1) {
      throw new TypeError('TokenIssuer: maxLifetime');
    }
    this.#issuer = options.issuer;
    this.#keyring = options.keyring;
    this.#audit = options.audit;
    this.#clock = options.clock ?? Date.now;
    this.#maxLifetime = options.maxLifetime;
  }

  /**
   * Mints one token.
   *
   * @throws TesseraError `ERR_TOKEN_AUDIENCE_INVALID`, `ERR_TOKEN_LIFETIME_INVALID`,
   *   `ERR_TOKEN_TOO_LARGE`, `ERR_KEYS_ALGORITHM_UNSUPPORTED`, `ERR_KEYS_NO_SIGNING_KEY`, and the
   *   claim and `sub` errors of `buildClaims`.
   */
  async issue(request: IssueTokenRequest): Promise<IssuedToken> {
    const audience = validateAudience(request.audience);
    const { lifetime } = request;
    if (!Number.isSafeInteger(lifetime) || lifetime < 1 || lifetime > this.#maxLifetime) {
      throw new TesseraError(
        'ERR_TOKEN_LIFETIME_INVALID',
        `lifetime must be a whole number of seconds between 1 and ${this.#maxLifetime}`,
        { details: { max: this.#maxLifetime } },
      );
    }
    const spec = resolveAlgorithm(request.alg ?? 'RS256');
    const jti = randomUUID();
    const iat = Math.floor(this.#clock() / 1000);
    const claims = buildClaims({
      issuer: this.#issuer,
      context: request.context,
      audience,
      jti,
      iat,
      lifetime,
    });
    const signer = this.#keyring.cachedSigner?.(spec.alg) ?? (await this.#keyring.signer(spec.alg));
    if (this.#header?.signer !== signer) {
      const encoded = Buffer.from(JSON.stringify({ alg: signer.alg, kid: signer.kid, typ: 'JWT' }));
      this.#header = { signer, encoded: encoded.toString('base64url') };
    }
    const header = this.#header.encoded;
    const payload = Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url');
    // Checked before signing: the signature length is fixed per algorithm.
    const length =
      header.length +
      1 +
      payload.length +
      1 +
      Math.ceil((SIGNING_ALGORITHMS[signer.alg].signatureLength * 4) / 3);
    if (length >= MAX_TOKEN_LENGTH) {
      throw new TesseraError(
        'ERR_TOKEN_TOO_LARGE',
        `the token would be ${length} bytes, over the ${MAX_TOKEN_LENGTH}-byte limit; use fewer or shorter audiences`,
      );
    }
    const signingInput = `${header}.${payload}`;
    const signed = signer.sign(Buffer.from(signingInput, 'latin1'));
    // A local signer answers synchronously; only a KMS signer costs an await.
    const signature = signed instanceof Promise ? await signed : signed;
    const token = `${signingInput}.${Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).toString('base64url')}`;
    const context = request.context;
    const recorded = this.#audit.recordIssuedToken({
      jti,
      projectId: context.project.id,
      pipelineId: context.pipeline.id,
      jobId: context.job.id,
      aud: typeof audience === 'string' ? [audience] : [...audience],
      sub: claims.sub,
      kid: signer.kid,
      alg: signer.alg,
      iat,
      exp: claims.exp,
      issuedVia: request.issuedVia,
    });
    await recorded;
    return { token, claims, kid: signer.kid, jti, exp: claims.exp };
  }
}
