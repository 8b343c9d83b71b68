import type { FastifyInstance } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import { type ClaimPreview, previewClaims } from '../../coordinator/preview-claims.js';
import { PIPELINE_SOURCES, type PipelineSource } from '../../pipeline/rule-variables.js';
import type { ProjectRecord } from '../../store/repositories/projects.js';
import type { UserRecord } from '../../store/repositories/users.js';
import { evaluateVaultRole, parseVaultRole, type VaultRoleVerdict } from '../../verify/vault-role.js';
import { authenticateForProject } from '../authenticate.js';
import { projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';

interface PreviewQuery {
  /** Default: the project's default branch. */
  ref?: string;
  job?: string;
  aud?: string;
  source?: PipelineSource;
}

const previewProperties = {
  ref: { type: 'string', minLength: 1, maxLength: 255 },
  job: { type: 'string', minLength: 1, maxLength: 255 },
  aud: { type: 'string', minLength: 1, maxLength: 1024 },
  source: { type: 'string', enum: [...PIPELINE_SOURCES] },
} as const;

/** The JSON answer: the preview, and for a role each token's verdict. */
function render(preview: ClaimPreview, verdicts?: VaultRoleVerdict[]) {
  return {
    job: preview.job,
    ref: preview.ref,
    sha: preview.sha,
    placeholders: preview.placeholders,
    tokens: preview.tokens.map((token, index) => ({
      name: token.name,
      refusal: token.refusal,
      claims: token.claims,
      ...(verdicts ? { vault_role: verdicts[index] } : {}),
    })),
  };
}

function request(
  project: ProjectRecord,
  user: UserRecord,
  query: PreviewQuery & { job_definition?: string },
) {
  return {
    project,
    user,
    ref: query.ref ?? project.defaultBranch,
    ...(query.job !== undefined ? { job: query.job } : {}),
    ...(query.aud !== undefined ? { aud: query.aud } : {}),
    ...(query.job_definition !== undefined ? { jobDefinition: query.job_definition } : {}),
    ...(query.source !== undefined ? { source: query.source } : {}),
  };
}

/**
 * `GET /projects/:id/id_tokens/preview?ref=&job=&aud=[&source=]`: the claims the job's ID tokens would
 * carry, nothing minted (`ref` defaults to the project's default branch); `POST` with `role` (a Vault JWT role as `vault read -format=json`
 * prints it) adds, per token, whether that role would accept it and why not. Developers and up,
 * as running the pipeline needs.
 */
export function registerIdTokenPreviewRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;
  app.get<{ Params: { id: string }; Querystring: PreviewQuery }>(
    '/api/v4/projects/:id/id_tokens/preview',
    {
      schema: {
        params: projectParams,
        querystring: { type: 'object', properties: previewProperties },
      },
    },
    async (req) => {
      const { user, project } = await authenticateForProject(context, req, ACCESS_LEVELS.developer);
      return render(await previewClaims(coordinator, request(project, user, req.query)));
    },
  );
  app.post<{
    Params: { id: string };
    Body: PreviewQuery & { job_definition?: string; role?: unknown };
  }>(
    '/api/v4/projects/:id/id_tokens/preview',
    {
      schema: {
        params: projectParams,
        body: {
          type: 'object',
          properties: {
            ...previewProperties,
            job_definition: { type: 'string', maxLength: 256 * 1024 },
            role: { anyOf: [{ type: 'object' }, { type: 'string', maxLength: 64 * 1024 }] },
          },
        },
      },
    },
    async (req) => {
      const { user, project } = await authenticateForProject(context, req, ACCESS_LEVELS.developer);
      const { role } = req.body;
      const parsedRole =
        role === undefined
          ? undefined
          : parseVaultRole(typeof role === 'string' ? role : JSON.stringify(role));
      const preview = await previewClaims(coordinator, request(project, user, req.body));
      const verdicts = parsedRole
        ? preview.tokens.map((token) =>
            evaluateVaultRole(token.claims as unknown as Record<string, unknown>, parsedRole),
          )
        : undefined;
      return render(preview, verdicts);
    },
  );
}
