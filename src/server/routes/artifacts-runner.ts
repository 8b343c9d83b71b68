import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CrossDependencyError, crossDependencies } from '../../artifacts/cross-dependencies.js';
import { artifactDependencies } from '../../artifacts/job-dependencies.js';
import { receiveArtifact } from '../../artifacts/receive-artifact.js';
import { authenticateJob, extendLease } from '../../coordinator/job-token-auth.js';
import { hashSecret } from '../../coordinator/secret-token.js';
import { TesseraError } from '../../errors.js';
import type { PlannedJob } from '../../pipeline/plan.js';
import { recordAuthFailure } from '../authenticate.js';
import { idParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';

function jobToken(request: FastifyRequest<{ Querystring: { token?: string; job_token?: string } }>): unknown {
  return request.headers['job-token'] ?? request.query.job_token ?? request.query.token;
}

/**
 * The runner's side of artifacts (GitLab's paths): `POST /jobs/:id/artifacts` takes a multipart
 * upload from the running job (its job token), and `GET /jobs/:id/artifacts` hands the archive
 * to a running job that depends on job `:id` (that job's token): a job of its pipeline, or the job
 * one of its `needs:project`/`needs:pipeline` entries names (resolved again, as the pipeline's user).
 */
export function registerArtifactRunnerRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;

  app.register(async (scope) => {
    // The body is streamed into the artifact store as it arrives: never parsed or buffered here.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    scope.post<{
      Params: { id: number };
      Querystring: {
        token?: string;
        job_token?: string;
        artifact_type?: string;
        artifact_format?: string;
        expire_in?: string;
      };
    }>(
      '/api/v4/jobs/:id/artifacts',
      {
        schema: {
          params: idParams,
          querystring: {
            type: 'object',
            properties: {
              token: { type: 'string', maxLength: 512 },
              job_token: { type: 'string', maxLength: 512 },
              artifact_type: { type: 'string', maxLength: 64 },
              artifact_format: { type: 'string', maxLength: 16 },
              expire_in: { type: 'string', maxLength: 100 },
              filesize: { type: 'integer', minimum: 0 },
            },
          },
        },
      },
      async (request, reply) => {
        let job: Awaited<ReturnType<typeof authenticateJob>>;
        try {
          job = await authenticateJob(coordinator, request.params.id, jobToken(request));
        } catch (error) {
          recordAuthFailure(context, request);
          throw error;
        }
        if (job.status !== 'running')
          throw new TesseraError(
            'ERR_JOB_STATE',
            `job ${job.id} is ${job.status}; artifacts are uploaded while it runs`,
          );
        const length = Number(request.headers['content-length']);
        try {
          const record = await receiveArtifact(coordinator, job, {
            body: request.raw,
            contentType: request.headers['content-type'],
            contentLength: Number.isFinite(length) ? length : undefined,
            artifactType: request.query.artifact_type,
            artifactFormat: request.query.artifact_format,
            expireIn: request.query.expire_in,
          });
          await extendLease(coordinator, job);
          request.log.info(
            { jobId: job.id, fileType: record.fileType, size: record.size },
            'artifacts stored',
          );
          return reply.status(201).send({ id: record.id, file_type: record.fileType, size: record.size });
        } catch (error) {
          // A refusal before the body was read: do not wait for the rest of it on this connection.
          if (!request.raw.readableEnded) reply.header('connection', 'close');
          throw error;
        }
      },
    );
  });

  app.get<{
    Params: { id: number };
    Querystring: { token?: string; job_token?: string; direct_download?: boolean };
  }>(
    '/api/v4/jobs/:id/artifacts',
    {
      schema: {
        params: idParams,
        querystring: {
          type: 'object',
          properties: {
            token: { type: 'string', maxLength: 512 },
            job_token: { type: 'string', maxLength: 512 },
            direct_download: { type: 'boolean' },
          },
        },
      },
    },
    async (request, reply) => {
      const token = jobToken(request);
      const downloader =
        typeof token === 'string' && token !== ''
          ? await coordinator.repos.jobs.findByTokenHash<PlannedJob>(hashSecret(token))
          : undefined;
      if (downloader === undefined || downloader.status !== 'running') {
        recordAuthFailure(context, request);
        throw new TesseraError('ERR_JOB_TOKEN_INVALID', 'the job token is not the token of a running job');
      }
      const notFound = new TesseraError(
        'ERR_ARTIFACTS_NOT_FOUND',
        `job ${request.params.id} has no artifacts this job may download`,
      );
      const target = await coordinator.repos.jobs.findById(request.params.id);
      if (target === undefined) throw notFound;
      const local =
        target.projectId === downloader.projectId && target.pipelineId === downloader.pipelineId
          ? await artifactDependencies(coordinator, downloader)
          : [];
      // A job of another pipeline only when a needs:project/needs:pipeline entry names it now.
      const dependencies =
        local.some((dependency) => dependency.id === target.id) || downloader.spec.crossNeeds === undefined
          ? local
          : await crossDependencies(coordinator, downloader).catch((error: unknown) => {
              if (error instanceof CrossDependencyError) return [];
              throw error;
            });
      if (!dependencies.some((dependency) => dependency.id === target.id)) throw notFound;
      const record = await coordinator.repos.jobArtifacts.find(target.id, 'archive');
      if (record === undefined || (record.expireAt !== null && record.expireAt <= coordinator.clock()))
        throw notFound;
      const stored = await coordinator.artifactStore.get(record.storeKey);
      if (stored === undefined) throw notFound;
      if (stored.size !== record.size)
        request.log.warn(
          { jobId: target.id, recorded: record.size, stored: stored.size },
          'artifact size differs from its record',
        );
      return reply
        .header('content-type', 'application/zip')
        .header('content-length', String(stored.size))
        .header('content-disposition', `attachment; filename="${record.fileName.replace(/["\\\r\n]/g, '_')}"`)
        .send(stored.stream);
    },
  );
}
