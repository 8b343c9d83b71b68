import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isTesseraError } from '../errors.js';
import { INSUFFICIENT_SCOPE_DESCRIPTION } from './token-scopes.js';

/** The body of every error answer. */
export interface ErrorBody {
  error: string;
  message: string;
  details?: Readonly<Record<string, unknown>>;
}

/**
 * Installs the one error handler: a {@link TesseraError} answers its status with `{error, message}`
 * (and its safe `details`), a schema failure answers 400 `ERR_VALIDATION` naming the field, any
 * other 4xx from Fastify keeps its status, and everything else is a 500 with a generic message
 * (the cause goes to the log only).
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (isTesseraError(error)) {
      if (!error.expose) {
        request.log.error({ err: error, code: error.code }, 'request failed');
        return reply.status(error.status).send({ error: error.code, message: 'internal error' });
      }
      const retryAfter = error.details?.retryAfter;
      if (typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter));
      const range = error.details?.range;
      if (typeof range === 'string') reply.header('range', range);
      if (error.code === 'ERR_AUTH_INSUFFICIENT_SCOPE') {
        // GitLab's answer (its OAuth bearer-token error, RFC 6750 §3.1), with Tessera's message beside it.
        const scope = String(error.details?.scope ?? '');
        return reply
          .status(error.status)
          .header('www-authenticate', `Bearer realm="Tessera", error="insufficient_scope", scope="${scope}"`)
          .send({
            error: 'insufficient_scope',
            error_description: INSUFFICIENT_SCOPE_DESCRIPTION,
            scope,
            message: error.message,
          });
      }
      const body: ErrorBody = { error: error.code, message: error.message };
      if (error.details && Object.keys(error.details).length > 0) body.details = error.details;
      return reply.status(error.status).send(body);
    }
    if (error.validation) {
      const first = error.validation[0];
      const field = `${error.validationContext ?? 'request'}${first?.instancePath?.replace(/\//g, '.') ?? ''}`;
      const params = first?.params as { missingProperty?: string; additionalProperty?: string } | undefined;
      const missing = params?.missingProperty;
      // A field the route does not implement is named, never silently dropped.
      const extra = params?.additionalProperty;
      const name = missing ? `${field}.${missing}` : extra ? `${field}.${extra}` : field;
      const what = missing ? 'is required' : extra ? 'is not supported' : (first?.message ?? 'is invalid');
      return reply.status(400).send({
        error: 'ERR_VALIDATION',
        message: `${name.replace(/^querystring/, 'query')} ${what}`,
        details: { field: name.replace(/^querystring/, 'query') },
      });
    }
    // PostgreSQL data exceptions (class 22: a NUL byte in text, a number out of range) are bad input
    // that slipped past the schemas; SQLite would have stored the value. Nothing was written.
    const sqlState = (error as { code?: unknown; severity?: unknown }).code;
    if (typeof sqlState === 'string' && /^22[0-9A-Z]{3}$/.test(sqlState) && 'severity' in error) {
      return reply.status(400).send({
        error: 'ERR_VALIDATION',
        message: 'a value cannot be stored (a NUL character, or a number out of range)',
      });
    }
    const status = typeof error.statusCode === 'number' ? error.statusCode : 500;
    if (status >= 400 && status < 500) {
      return reply
        .status(status)
        .send({ error: status === 404 ? 'ERR_NOT_FOUND' : 'ERR_VALIDATION', message: clientMessage(error) });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.status(500).send({ error: 'ERR_INTERNAL', message: 'internal error' });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send({ error: 'ERR_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );
}

// Fastify's own 4xx messages (bad JSON, unsupported media type, body too large) are safe to show;
// they never quote the body.
function clientMessage(error: FastifyError): string {
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return 'unsupported Content-Type';
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'request body too large';
  if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
    return 'body is empty but Content-Type is application/json';
  if (error instanceof SyntaxError) return 'body is not valid JSON';
  return error.message.split('\n')[0] ?? 'bad request';
}
