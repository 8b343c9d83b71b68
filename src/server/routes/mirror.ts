import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import { redactRepositoryUrl } from '../../coordinator/git-repository.js';
import { TesseraError } from '../../errors.js';
import type { ProjectRecord } from '../../store/repositories/projects.js';
import { webhookSecretPurpose } from '../../triggers/mirror-settings.js';
import { type MirrorUpdate, updateMirror } from '../../triggers/update-mirror.js';
import { hasWebhookSignature, verifyWebhookSignature } from '../../triggers/webhook-signature.js';
import { authenticateForProject, recordAuthFailure } from '../authenticate.js';
import { RateLimiter } from '../rate-limiter.js';
import { iso, projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';

/** Webhook calls accepted per project per minute (a git host sends one per push). */
const WEBHOOK_CALLS_PER_MINUTE = 120;

function renderUpdate(update: MirrorUpdate) {
  return {
    status: update.claimed ? (update.error === null ? 'updated' : 'failed') : 'queued',
    error: update.error,
    pipelines: update.pipelines.map((entry) => ({
      ref: entry.ref,
      tag: entry.type === 'tag',
      before_sha: entry.before,
      sha: entry.after,
      pipeline_id: entry.pipelineId,
      error: entry.error,
    })),
  };
}

/**
 * `GET /projects/:id/mirror/pull`: the state of a project's pull mirroring (GitLab's names where it
 * has them). `POST /projects/:id/mirror/pull`: looks at a mirrored project's repository now and starts the
 * pipelines of what changed. Called with a personal access token (maintainers), or without one by
 * a git host's webhook signed with the project's `mirror_webhook_secret` (see
 * `verifyWebhookSignature`). The body is read raw (any content type, at most 1 MiB) because the
 * signature covers its exact bytes; nothing in it is trusted beyond that: the repository itself is
 * asked what changed. Answers 200 with the pipelines started, or 202 when another node is looking
 * at the repository right now (it looks again as soon as it is free).
 */
export function registerMirrorRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;
  const webhookLimiter = new RateLimiter(WEBHOOK_CALLS_PER_MINUTE, 60_000, coordinator.clock);

  const findProject = async (id: string): Promise<ProjectRecord | undefined> =>
    /^\d+$/.test(id)
      ? Number(id) <= 2147483647
        ? coordinator.repos.projects.findById(Number(id))
        : undefined
      : coordinator.repos.projects.findByPath(id);

  const refuseSignature = (request: FastifyRequest, projectId: string, reason: string): never => {
    request.log.warn({ projectId, reason, remoteAddress: request.ip }, 'mirror webhook refused');
    recordAuthFailure(context, request);
    throw new TesseraError(
      'ERR_MIRROR_SIGNATURE_INVALID',
      "the webhook is not signed with this project's mirror_webhook_secret (X-Hub-Signature-256, X-Gitea-Signature or X-Gitlab-Token)",
    );
  };

  app.get<{ Params: { id: string } }>(
    '/api/v4/projects/:id/mirror/pull',
    { schema: { params: projectParams } },
    async (request) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer);
      const mirror = await coordinator.repos.projectMirrors.find(project.id);
      if (!mirror?.enabled) {
        throw new TesseraError(
          'ERR_MIRROR_NOT_ENABLED',
          'pull mirroring is off for this project; set mirror: true first',
        );
      }
      const status =
        mirror.leaseExpiresAt !== null && mirror.leaseExpiresAt > coordinator.clock()
          ? 'started'
          : mirror.lastUpdateAt === null
            ? 'none'
            : mirror.lastError === null
              ? 'finished'
              : 'failed';
      return {
        id: project.id,
        url: redactRepositoryUrl(project.repositoryUrl),
        enabled: true,
        update_status: status,
        last_error: mirror.lastError,
        last_update_at: iso(mirror.lastUpdateAt),
        last_successful_update_at: iso(mirror.lastSuccessfulUpdateAt),
        next_update_at: iso(mirror.nextCheckAt),
        mirror_trigger_builds: mirror.triggerBuilds,
        only_mirror_protected_branches: mirror.onlyProtectedBranches,
        mirror_webhook_secret_set: mirror.webhookSecret !== null,
      };
    },
  );

  app.register(async (scope) => {
    // Only here: the signature covers the body's exact bytes, so no parser may touch them.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_request, body, done) =>
      done(null, body),
    );
    scope.post<{ Params: { id: string }; Body: Buffer | undefined }>(
      '/api/v4/projects/:id/mirror/pull',
      { schema: { params: projectParams } },
      async (request, reply) => {
        const headers = request.headers;
        const withToken =
          headers['private-token'] !== undefined ||
          headers.authorization !== undefined ||
          !hasWebhookSignature(headers);
        let project: ProjectRecord;
        if (withToken) {
          ({ project } = await authenticateForProject(context, request, ACCESS_LEVELS.maintainer));
          const mirror = await coordinator.repos.projectMirrors.find(project.id);
          if (!mirror?.enabled) {
            throw new TesseraError(
              'ERR_MIRROR_NOT_ENABLED',
              'pull mirroring is off for this project; set mirror: true first',
            );
          }
        } else {
          const id = request.params.id;
          const limit = webhookLimiter.hit(id);
          if (!limit.allowed) {
            throw new TesseraError(
              'ERR_RATE_LIMITED',
              'too many webhook calls for this project; retry later',
              {
                details: { retryAfter: limit.retryAfter },
              },
            );
          }
          const found = await findProject(id);
          const mirror = found && (await coordinator.repos.projectMirrors.find(found.id));
          if (!found || !mirror?.enabled || mirror.webhookSecret === null) {
            return refuseSignature(request, id, 'no mirrored project with a webhook secret');
          }
          const secret = coordinator.keyring.openSecret(mirror.webhookSecret, webhookSecretPurpose(found.id));
          const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
          if (!verifyWebhookSignature(headers, body, secret))
            return refuseSignature(request, id, 'signature mismatch');
          project = found;
        }
        const update = await updateMirror(coordinator, project.id);
        if (!update.claimed) {
          await coordinator.repos.projectMirrors.requestCheck(project.id, coordinator.clock());
          return reply.status(202).send(renderUpdate(update));
        }
        return reply.status(200).send(renderUpdate(update));
      },
    );
  });
}
