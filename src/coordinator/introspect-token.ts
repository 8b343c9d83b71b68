import { isTesseraError } from '../errors.js';
import { createVerifier, decodeToken, type VerifiedClaims } from '../verify/index.js';
import type { Coordinator } from './coordinator.js';

/** An RFC 7662 introspection answer. */
export type IntrospectionResult =
  | { active: false }
  | ({ active: true; token_type: 'Bearer' } & VerifiedClaims);

/**
 * RFC 7662 introspection of an ID token: active only when it verifies against this issuer's keys
 * (signature, `iss`, time), was issued by this coordinator (it is in the audit), and its job is
 * still running. A finished or cancelled job's tokens answer `{ "active": false }` (DESIGN 3.4).
 */
export async function introspectToken(coordinator: Coordinator, token: string): Promise<IntrospectionResult> {
  const inactive = { active: false } as const;
  let audience: string | string[];
  try {
    const decoded = decodeToken(token);
    const aud = decoded.payload.aud;
    if (typeof aud === 'string' && aud !== '') audience = aud;
    else if (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string' && a !== '')) {
      audience = aud as string[];
    } else return inactive;
  } catch {
    return inactive;
  }
  let claims: VerifiedClaims;
  try {
    const verifier = createVerifier({
      issuer: coordinator.urls.issuer,
      audience,
      keySet: async () => (await coordinator.keyring.jwks()).document,
      clock: coordinator.clock,
      leeway: 0,
    });
    claims = await verifier.verify(token);
  } catch (error) {
    if (isTesseraError(error)) return inactive;
    throw error;
  }
  if (typeof claims.jti !== 'string') return inactive;
  const audit = await coordinator.repos.issuedTokens.findByJti(claims.jti);
  if (!audit) return inactive;
  const job = await coordinator.repos.jobs.findById(audit.jobId);
  if (job?.status !== 'running') return inactive;
  return { active: true, token_type: 'Bearer', ...claims };
}
