/**
 * A stand-in for HashiCorp Vault, used because no Vault server can be installed on the machines
 * that run these tests. It answers only the two documented endpoints the runner uses, with Vault's
 * shapes and status codes:
 * - `POST /v1/auth/<path>/login {role, jwt}` (JWT auth method): verifies the JWT's signature, `iss`
 *   and `aud` against the role's `bound_audiences`, and its `bound_claims`; 400 with Vault's
 *   `{"errors": [...]}` otherwise; on success `{"auth": {"client_token": …}}`.
 * - `GET /v1/<engine>/data/<path>` (KV v2) and `GET /v1/<engine>/<path>` (KV v1) with
 *   `X-Vault-Token`: 403 `permission denied` for an unknown token, 404 `{"errors": []}` for a path
 *   that does not exist.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JSONWebKeySet } from 'jose';
import { createVerifier, type VerifiedClaims } from '../../src/verify/index.js';

/** A JWT auth role of the stand-in. */
export interface StandInRole {
  readonly boundAudiences: readonly string[];
  readonly boundClaims?: Readonly<Record<string, string>>;
}

/** Configuration of {@link startVaultStandIn}. */
export interface VaultStandInOptions {
  /**
   * The JWKS used to verify login JWTs. Absent: read through discovery at the issuer, as Vault's
   * `oidc_discovery_url` does.
   */
  readonly jwks?: JSONWebKeySet;
  /** `bound_issuer` (and `oidc_discovery_url`). */
  readonly issuer: string;
  /** Auth mount path (`jwt` by default). */
  readonly authPath?: string;
  readonly roles: Readonly<Record<string, StandInRole>>;
  /** KV v2 mounts: mount → path → data. */
  readonly kv2?: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, unknown>>>>>>;
  /** KV v1 mounts: mount → path → data. */
  readonly kv1?: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, unknown>>>>>>;
}

/** A running stand-in. */
export interface VaultStandIn {
  readonly url: string;
  /** Claims of every JWT that logged in successfully. */
  readonly logins: VerifiedClaims[];
  close(): Promise<void>;
}

export async function startVaultStandIn(options: VaultStandInOptions): Promise<VaultStandIn> {
  const tokens = new Set<string>();
  const logins: VerifiedClaims[] = [];
  const authPath = options.authPath ?? 'jwt';
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const answer = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      void (async () => {
        const path = new URL(request.url ?? '/', 'http://x').pathname;
        if (request.method === 'POST' && path === `/v1/auth/${authPath}/login`) {
          let body: { role?: string; jwt?: string };
          try {
            body = JSON.parse(Buffer.concat(chunks).toString());
          } catch {
            return answer(400, { errors: ['failed to parse JSON input'] });
          }
          const role = options.roles[body.role ?? ''];
          if (role === undefined) return answer(400, { errors: [`role "${body.role}" could not be found`] });
          if (typeof body.jwt !== 'string') return answer(400, { errors: ['missing token'] });
          try {
            const jwks = options.jwks;
            const verifier = createVerifier({
              issuer: options.issuer,
              audience: [...role.boundAudiences],
              ...(role.boundClaims ? { boundClaims: { ...role.boundClaims } } : {}),
              ...(jwks ? { keySet: async () => ({ keys: [...jwks.keys] }) } : {}),
            });
            const payload = await verifier.verify(body.jwt);
            const token = `hvs.${randomUUID()}`;
            tokens.add(token);
            logins.push(payload);
            return answer(200, { auth: { client_token: token, policies: ['default'], lease_duration: 60 } });
          } catch (error) {
            return answer(400, {
              errors: [`error validating token: ${error instanceof Error ? error.message : 'invalid'}`],
            });
          }
        }
        if (request.method === 'GET' && path.startsWith('/v1/')) {
          const token = request.headers['x-vault-token'];
          if (typeof token !== 'string' || !tokens.has(token))
            return answer(403, { errors: ['permission denied'] });
          const rest = path.slice('/v1/'.length);
          for (const [mount, entries] of Object.entries(options.kv2 ?? {})) {
            if (rest.startsWith(`${mount}/data/`)) {
              const data = entries[rest.slice(`${mount}/data/`.length)];
              if (data === undefined) return answer(404, { errors: [] });
              return answer(200, { data: { data, metadata: { version: 1 } } });
            }
          }
          for (const [mount, entries] of Object.entries(options.kv1 ?? {})) {
            if (rest.startsWith(`${mount}/`)) {
              const data = entries[rest.slice(`${mount}/`.length)];
              if (data === undefined) return answer(404, { errors: [] });
              return answer(200, { data, lease_duration: 2764800 });
            }
          }
          return answer(404, { errors: [] });
        }
        return answer(405, { errors: ['unsupported path'] });
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    logins,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
