import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { introspectToken } from '../coordinator/introspect-token.js';
import { hashesEqual, hashSecret } from '../coordinator/secret-token.js';
import { TesseraError } from '../errors.js';
import type { RenderedJwks } from '../keys/jwks.js';
import { authenticate, presentedToken } from '../server/authenticate.js';
import type { ServerContext } from '../server/server-context.js';
import { buildDiscoveryDocument, DISCOVERY_PATH, INTROSPECTION_PATH, JWKS_PATH } from './discovery.js';

/**
 * Who calls introspection, as the key its rate limit counts under. RFC 7662 §2.1: the caller must
 * be authorised, so that the endpoint is no oracle for whoever holds a token. Either the operator's
 * instance introspection token (`TESSERA_INTROSPECTION_TOKEN`, compared by hash in constant time)
 * or a personal access token with `read_api` or `api`, as `Authorization: Bearer` or `PRIVATE-TOKEN`.
 *
 * @throws TesseraError as `authenticate`: 401 without a valid credential (counted by the
 *   failure limit), 403 `insufficient_scope` for a token without those scopes.
 */
async function authenticateIntrospectionCaller(
  context: ServerContext,
  request: FastifyRequest,
): Promise<string> {
  const presented = presentedToken(request);
  if (
    presented !== undefined &&
    context.introspectionTokenHash !== undefined &&
    hashesEqual(hashSecret(presented), context.introspectionTokenHash)
  ) {
    return 'instance';
  }
  const user = await authenticate(context, request, { scopes: ['api', 'read_api'] });
  return `user:${user.id}`;
}

/** The path prefix of an issuer URL (`https://ci.example.com/tessera` → `/tessera`, no prefix → ''). */
export function issuerPathPrefix(issuer: string): string {
  return new URL(issuer).pathname.replace(/\/+$/, '');
}

function notModified(request: FastifyRequest, etag: string): boolean {
  const header = request.headers['if-none-match'];
  if (typeof header !== 'string') return false;
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === etag);
}

/** A JWKS answer ready to write: its bytes and the headers of a 200 and of a 304. */
interface PreparedJwks {
  etag: string;
  body: Buffer;
  headers: Record<string, string | number>;
  notModifiedHeaders: Record<string, string>;
}

/**
 * The OIDC provider routes under the issuer (with its path prefix, if any):
 * `<issuer>/.well-known/openid-configuration`, `<issuer>/oauth/discovery/keys` (JWKS, with
 * `Cache-Control: public, max-age=<jwksCachePeriod>` and a strong ETag, 304 on a match) and
 * `POST <issuer>/oauth/introspect` (RFC 7662; for authorised callers only, rate-limited). When the issuer has a prefix, discovery and JWKS are
 * also answered at the root, where some relying parties look first.
 */
export function registerOidcRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;
  const prefix = issuerPathPrefix(coordinator.urls.issuer);
  const cacheControl = `public, max-age=${coordinator.config.jwksCachePeriod}`;
  let discoveryCache: { key: string; body: string; etag: string } | undefined;

  const discovery = async (request: FastifyRequest, reply: FastifyReply) => {
    const issuer = coordinator.urls.issuer;
    const algorithms = await coordinator.keyring.algorithms();
    const key = `${issuer} ${algorithms.join(',')}`;
    if (discoveryCache?.key !== key) {
      const body = JSON.stringify(buildDiscoveryDocument({ issuer, algorithms }));
      discoveryCache = {
        key,
        body,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      };
    }
    reply.header('cache-control', cacheControl).header('etag', discoveryCache.etag);
    if (notModified(request, discoveryCache.etag)) return reply.status(304).send();
    return reply.type('application/json; charset=utf-8').send(discoveryCache.body);
  };

  // The JWKS is fetched by every relying party, often: its answer is prepared once per key set
  // (bytes and headers, including the server's own `nosniff`) and written straight to the socket,
  // past Fastify's reply pipeline (serialisation, onSend hooks), which cost half the throughput.
  const prepared = new WeakMap<RenderedJwks, PreparedJwks>();
  const prepare = (rendered: RenderedJwks): PreparedJwks => {
    let answer = prepared.get(rendered);
    if (!answer) {
      const body = Buffer.from(rendered.body);
      const common = {
        'cache-control': cacheControl,
        etag: rendered.etag,
        'x-content-type-options': 'nosniff',
      };
      answer = {
        etag: rendered.etag,
        body,
        headers: {
          ...common,
          'content-type': 'application/json; charset=utf-8',
          'content-length': body.length,
        },
        notModifiedHeaders: common,
      };
      prepared.set(rendered, answer);
    }
    return answer;
  };
  const answerJwks = (request: FastifyRequest, reply: FastifyReply, rendered: RenderedJwks) => {
    const answer = prepare(rendered);
    reply.hijack();
    if (notModified(request, answer.etag)) reply.raw.writeHead(304, answer.notModifiedHeaders).end();
    else reply.raw.writeHead(200, answer.headers).end(answer.body);
  };
  const jwks = (request: FastifyRequest, reply: FastifyReply) => {
    const rendered = coordinator.keyring.jwksIfLoaded();
    if (rendered) return answerJwks(request, reply, rendered);
    return coordinator.keyring.jwks().then((loaded) => answerJwks(request, reply, loaded));
  };

  const paths = new Set([prefix, ...(prefix === '' ? [] : [''])]);
  for (const base of paths) {
    app.get(`${base}${DISCOVERY_PATH}`, { logLevel: 'warn' }, discovery);
    app.get(`${base}${JWKS_PATH}`, { logLevel: 'warn' }, jwks);
  }

  app.post<{ Body: { token?: string; token_type_hint?: string } }>(
    `${prefix}${INTROSPECTION_PATH}`,
    {
      schema: {
        body: {
          type: 'object',
          required: ['token'],
          properties: {
            token: { type: 'string', maxLength: 16384 },
            token_type_hint: { type: 'string', maxLength: 64 },
          },
        },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      const caller = await authenticateIntrospectionCaller(context, request);
      const limit = context.introspectionLimiter.hit(caller);
      if (!limit.allowed) {
        throw new TesseraError('ERR_RATE_LIMITED', 'too many introspection requests; retry later', {
          details: { retryAfter: limit.retryAfter },
        });
      }
      return introspectToken(coordinator, request.body.token ?? '');
    },
  );
}
