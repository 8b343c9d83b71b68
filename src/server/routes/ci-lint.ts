import type { FastifyInstance } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import { lintConfiguration } from '../../coordinator/lint-configuration.js';
import { TesseraError } from '../../errors.js';
import { authenticateForProject } from '../authenticate.js';
import { projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';

const refSchema = { type: 'string', minLength: 1, maxLength: 255 } as const;

/**
 * GitLab's lint API: `POST /projects/:id/ci/lint` (`content`, `dry_run`, `include_jobs`, `ref`)
 * checks a given configuration in the project's context (includes read from the repository at
 * `ref`, default branch by default); `GET /projects/:id/ci/lint` (`content_ref` or `sha`,
 * `dry_run`, `dry_run_ref` or `ref`, `include_jobs`) checks the project's own file. Both answer
 * `valid`, `errors`, `warnings`, `merged_yaml`, `includes` and, with `include_jobs`, `jobs`.
 * Reading needs the Reporter role; `dry_run` (the pipeline a push would get) the Developer role.
 */
export function registerCiLintRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;

  app.post<{
    Params: { id: string };
    Body: { content: string; dry_run?: boolean; include_jobs?: boolean; ref?: string };
  }>(
    '/api/v4/projects/:id/ci/lint',
    {
      schema: {
        params: projectParams,
        body: {
          type: 'object',
          required: ['content'],
          properties: {
            content: { type: 'string', maxLength: 1024 * 1024 },
            dry_run: { type: 'boolean' },
            include_jobs: { type: 'boolean' },
            ref: refSchema,
          },
        },
      },
    },
    async (request) => {
      const dryRun = request.body.dry_run === true;
      const { project, user } = await authenticateForProject(
        context,
        request,
        dryRun ? ACCESS_LEVELS.developer : ACCESS_LEVELS.reporter,
      );
      return lintConfiguration(coordinator, {
        project,
        user,
        content: request.body.content,
        ref: request.body.ref,
        dryRun,
        includeJobs: request.body.include_jobs === true,
      });
    },
  );

  app.get<{
    Params: { id: string };
    Querystring: {
      content_ref?: string;
      sha?: string;
      dry_run?: boolean;
      dry_run_ref?: string;
      ref?: string;
      include_jobs?: boolean;
    };
  }>(
    '/api/v4/projects/:id/ci/lint',
    {
      schema: {
        params: projectParams,
        querystring: {
          type: 'object',
          properties: {
            content_ref: refSchema,
            sha: refSchema,
            dry_run: { type: 'boolean' },
            dry_run_ref: refSchema,
            ref: refSchema,
            include_jobs: { type: 'boolean' },
          },
        },
      },
    },
    async (request) => {
      const query = request.query;
      const dryRun = query.dry_run === true;
      const { project, user } = await authenticateForProject(
        context,
        request,
        dryRun ? ACCESS_LEVELS.developer : ACCESS_LEVELS.reporter,
      );
      const contentRef = query.content_ref ?? query.sha;
      const dryRunRef = query.dry_run_ref ?? query.ref;
      if (contentRef !== undefined && dryRunRef !== undefined && contentRef !== dryRunRef) {
        throw new TesseraError(
          'ERR_VALIDATION',
          'content_ref and dry_run_ref must name the same branch or tag in Tessera; give one of them',
          { details: { field: 'query.dry_run_ref' } },
        );
      }
      return lintConfiguration(coordinator, {
        project,
        user,
        ref: contentRef ?? dryRunRef,
        dryRun,
        includeJobs: query.include_jobs === true,
      });
    },
  );
}
