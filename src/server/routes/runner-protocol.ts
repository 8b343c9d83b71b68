import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { claimJob, releaseClaim } from '../../coordinator/claim-job.js';
import { finishJob, finishJobWithToken, type JobOutcome } from '../../coordinator/finish-job.js';
import { cancelJob } from '../../coordinator/job-actions.js';
import { authenticateJob, extendLease } from '../../coordinator/job-token-auth.js';
import { RunnerTokenCache } from '../../coordinator/runner-auth.js';
import { hashSecret } from '../../coordinator/secret-token.js';
import { TesseraError } from '../../errors.js';
import type { PlannedJob } from '../../pipeline/plan.js';
import type { JobRecord } from '../../store/repositories/jobs.js';
import { recordAuthFailure } from '../authenticate.js';
import { eligibilityKey, JobWaiters } from '../job-waiters.js';
import { idParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';

/** Largest log chunk one PATCH may carry. */
const MAX_TRACE_CHUNK = 4 * 1024 * 1024;
/** A job's log stops growing here (GitLab caps logs too); the job itself goes on. */
const MAX_TRACE_BYTES = 64 * 1024 * 1024;

/** How often a waiting request looks at the database anyway (other nodes may have queued jobs). */
const POLL_INTERVAL_MS = 1000;
/**
 * How long a node trusts a runner token it checked for `POST /jobs/request` without looking it up
 * again (the claim still checks it in its transaction; see {@link RunnerTokenCache}).
 */
const RUNNER_TOKEN_CACHE_MS = 5000;
/** How stale a runner's stored `contacted_at` may be before a request updates it. */
const RUNNER_CONTACT_RESOLUTION_MS = 60_000;

/** A runner's final report (`success`, or anything else as `failed`) as a job outcome. */
function outcomeOf(state: string, body: { exit_code?: number; failure_reason?: string }): JobOutcome {
  return {
    status: state === 'success' ? 'success' : 'failed',
    exitCode: body.exit_code ?? null,
    failureReason: state === 'failed' ? (body.failure_reason ?? 'script_failure') : null,
  };
}

function sendStatus(reply: FastifyReply, status: string, code = 200) {
  return reply.status(code).header('job-status', status).send({ status });
}

/**
 * The runner protocol (GitLab's shapes): `POST /jobs/request` long-polls up to `jobRequestWait`
 * seconds and answers 201 with a job or 204; `PUT /jobs/:id` updates the state (and is the
 * runner's keepalive); `PATCH /jobs/:id/trace` appends log bytes at `Content-Range`. Both answer
 * the job's current status (`{"status"}` and `Job-Status`), so a runner learns of a cancel.
 */
export function registerRunnerProtocolRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;
  const waiters = new JobWaiters();
  const runnerTokens = new RunnerTokenCache(RUNNER_TOKEN_CACHE_MS);
  const onJobs = () => (coordinator.stopping ? waiters.wakeAll() : waiters.wakeOnePerKey());
  coordinator.events.on('jobs', onJobs);
  app.addHook('onClose', async () => {
    coordinator.events.off('jobs', onJobs);
  });

  const withAuthLimit = async <T>(request: FastifyRequest, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      if (
        error instanceof TesseraError &&
        (error.code === 'ERR_RUNNER_TOKEN_INVALID' || error.code === 'ERR_JOB_TOKEN_INVALID')
      ) {
        recordAuthFailure(context, request);
      }
      throw error;
    }
  };

  app.post<{ Body: { token: string } }>(
    '/api/v4/jobs/request',
    {
      schema: {
        body: {
          type: 'object',
          required: ['token'],
          properties: {
            token: { type: 'string', minLength: 1, maxLength: 512 },
            info: { type: 'object' },
            last_update: { type: 'string', maxLength: 256 },
          },
        },
      },
    },
    async (request, reply) => {
      const { runner, tokenHash } = await withAuthLimit(request, () =>
        runnerTokens.authenticate(coordinator, request.body.token),
      );
      // contacted_at is kept to the minute (GitLab keeps it to the hour): a runner asks for work
      // every few seconds per worker, and "online" means within two hours.
      const now = coordinator.clock();
      if (runner.contactedAt === null || now - runner.contactedAt >= RUNNER_CONTACT_RESOLUTION_MS) {
        await coordinator.repos.runners.touch(runner.id, now);
        runnerTokens.update(tokenHash, { ...runner, contactedAt: now });
      }
      // GitLab: a paused runner is told at once that there is nothing for it.
      if (runner.paused) return reply.status(204).send();
      const deadline = Date.now() + coordinator.config.jobRequestWait * 1000;
      const key = eligibilityKey(runner);
      // The request stream ends once its body is read; the socket and the response tell whether the client left.
      const gone = () => request.raw.socket?.destroyed === true || reply.raw.destroyed;
      for (;;) {
        // A runner that hung up must not be handed a job nobody will run.
        if (gone() || coordinator.stopping) return reply.status(204).send();
        const job = await claimJob(coordinator, runner, { tokenHash });
        if (job) {
          // More jobs may be pending for runners like this one.
          waiters.relay(key);
          if (gone()) {
            await releaseClaim(coordinator, job.id);
            return reply.status(204).send();
          }
          request.log.info({ jobId: job.id, runnerId: runner.id }, 'job picked up');
          return reply.status(201).send(job);
        }
        const left = deadline - Date.now();
        if (left <= 0) return reply.status(204).send();
        const hangUp = new AbortController();
        const close = () => hangUp.abort();
        reply.raw.once('close', close);
        try {
          await waiters.wait(key, Math.min(left, POLL_INTERVAL_MS), hangUp.signal);
        } finally {
          reply.raw.off('close', close);
        }
      }
    },
  );

  app.put<{
    Params: { id: number };
    Body: {
      token: string;
      state?: string;
      exit_code?: number;
      failure_reason?: string;
      trace?: string;
      trace_offset?: number;
    };
  }>(
    '/api/v4/jobs/:id',
    {
      schema: {
        params: idParams,
        body: {
          type: 'object',
          required: ['token'],
          properties: {
            token: { type: 'string', maxLength: 512 },
            // `canceled`/`canceling`: a runner that stopped a running job itself (as some runners report).
            state: { type: 'string', enum: ['running', 'success', 'failed', 'canceled', 'canceling'] },
            exit_code: { type: 'integer', minimum: -1, maximum: 65535 },
            // GitLab's runner sends reasons from a list that grows; any snake_case word is kept as it is.
            failure_reason: { type: 'string', maxLength: 64, pattern: '^[a-z_]+$' },
            checksum: { type: 'string', maxLength: 256 },
            // Tessera's runner sends the log's last part with the final state (one request fewer
            // per job): `trace` starts at byte `trace_offset` of the log. GitLab's runner does not.
            trace: { type: 'string', maxLength: 1024 * 1024 },
            trace_offset: { type: 'integer', minimum: 0 },
            output: { type: 'object' },
            info: { type: 'object' },
          },
        },
      },
    },
    async (request, reply) => {
      const state = request.body.state ?? 'running';
      // The common report, a final state without a log part: the job token is checked by the
      // update that ends the job (no read before it). Anything else, a wrong token or a job no
      // longer running included, takes the path below, which reads the job first.
      if ((state === 'success' || state === 'failed') && request.body.trace === undefined) {
        const status = await finishJobWithToken(
          coordinator,
          request.params.id,
          hashSecret(request.body.token),
          outcomeOf(state, request.body),
        );
        if (status !== undefined) {
          request.log.info({ jobId: request.params.id, status }, 'job finished');
          return sendStatus(reply, status);
        }
      }
      const job = await withAuthLimit(request, () =>
        authenticateJob(coordinator, request.params.id, request.body.token),
      );
      if (job.status !== 'running') return sendStatus(reply, job.status);
      if (state === 'running') {
        await extendLease(coordinator, job);
        return sendStatus(reply, 'running');
      }
      if (state === 'canceled' || state === 'canceling') {
        await cancelJob(coordinator, job);
        return sendStatus(reply, 'canceled');
      }
      if (request.body.trace !== undefined) {
        // A 416 leaves the job running: the runner sends the part on its own, then the state again.
        // A part without its offset never starts where the log ends.
        const length = await appendToLog(
          job,
          Buffer.from(request.body.trace, 'utf8'),
          request.body.trace_offset ?? -1,
        );
        reply.header('range', `0-${length}`);
      }
      const status = await finishJob(coordinator, job.id, outcomeOf(state, request.body), job);
      request.log.info({ jobId: job.id, status }, 'job finished');
      return sendStatus(reply, status);
    },
  );

  /**
   * Appends `bytes` to the log of a running job (a trace chunk, or the last part sent with the
   * final state, which is taken before the job ends) and answers the log's length in bytes. With
   * `start`, the part must begin where the log ends (else 416 with the log's length). A log past
   * the size cap takes no more.
   */
  async function appendToLog(job: JobRecord<PlannedJob>, bytes: Buffer, start?: number): Promise<number> {
    const state = await coordinator.repos.jobs.traceState(job.id);
    const current = state?.bytes ?? 0;
    if (start !== undefined && start !== current) {
      throw new TesseraError(
        'ERR_JOB_TRACE_RANGE',
        `the log has ${current} bytes; send from byte ${current}`,
        {
          details: { range: `0-${current}` },
        },
      );
    }
    if (bytes.length > 0 && current < MAX_TRACE_BYTES) {
      return coordinator.repos.jobs.appendTrace(job.id, bytes, state);
    }
    return current;
  }

  // The log arrives as raw bytes whatever its Content-Type: offsets count bytes, and a chunk may
  // end inside a UTF-8 character. Its own scope, so only this route parses bodies as buffers.
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: MAX_TRACE_CHUNK },
      (_request, body, done) => done(null, body),
    );
    scope.patch<{ Params: { id: number }; Body: Buffer | undefined }>(
      '/api/v4/jobs/:id/trace',
      { schema: { params: idParams } },
      async (request, reply) => {
        const token = request.headers['job-token'];
        const job = await withAuthLimit(request, () =>
          authenticateJob(coordinator, request.params.id, token),
        );
        // As GitLab: a job's token appends to its log only while the job runs (the last part
        // comes with the final PUT); a finished job's token writes nothing more.
        if (job.status !== 'running') {
          reply.header('job-status', job.status);
          throw new TesseraError(
            'ERR_JOB_NOT_RUNNING',
            `job ${job.id} is ${job.status}, not running: its log takes no more`,
          );
        }
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const range = request.headers['content-range'];
        let start: number | undefined;
        if (typeof range === 'string') {
          const match = /^(?:bytes )?(\d+)-(\d+)/.exec(range.trim());
          if (!match) {
            throw new TesseraError('ERR_VALIDATION', 'header Content-Range must be <start>-<end>', {
              details: { field: 'headers.content-range' },
            });
          }
          start = Number(match[1]);
        }
        const length = await appendToLog(job, body, start);
        await extendLease(coordinator, job);
        reply.header('range', `0-${length}`).header('x-gitlab-trace-update-interval', '3');
        return sendStatus(reply, 'running', 202);
      },
    );
  });
}
