import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

/** The runner's long poll: every worker of every runner asks again each `jobRequestWait` seconds. */
const JOB_REQUEST_URL = '/api/v4/jobs/request';

function isJobRequest(request: FastifyRequest): boolean {
  return request.routeOptions.url === JOB_REQUEST_URL;
}

/**
 * Fastify's request logging, with the runners' idle long polls at debug level: a `POST
 * /api/v4/jobs/request` that ends without a job (204) is the normal state of an idle instance,
 * and at info it would write two lines per runner worker every `jobRequestWait` seconds. A job
 * request that hands out a job or fails is still logged at info (or error), with the handler's
 * own "job picked up" line.
 */
export class RequestLogController extends LogController {
  override incomingRequest(
    request: FastifyRequest,
    reply: FastifyReply,
    metadata?: Record<string, unknown>,
  ): void {
    if (isJobRequest(request)) {
      if (!this.isLogDisabled(request)) request.log.debug({ req: request }, 'incoming request');
      return;
    }
    super.incomingRequest(request, reply, metadata);
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    metadata?: Record<string, unknown>,
  ): void {
    if (!error && reply.statusCode === 204 && isJobRequest(request)) {
      if (!this.isLogDisabled(request)) {
        reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
      }
      return;
    }
    super.requestCompleted(error, request, reply, metadata);
  }
}
