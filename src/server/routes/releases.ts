import type { FastifyInstance } from 'fastify';
import { ACCESS_LEVELS } from '../../coordinator/access-level.js';
import { TesseraError } from '../../errors.js';
import type { Db } from '../../store/open-store.js';
import { authenticateForProject } from '../authenticate.js';
import { iso, projectParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';

type ReleaseRow = Awaited<ReturnType<typeof listReleases>>[number];

function listReleases(db: Db, projectId: number) {
  return db
    .selectFrom('releases')
    .selectAll()
    .where('projectId', '=', projectId)
    .orderBy('releasedAt', 'desc')
    .orderBy('id', 'desc')
    .execute();
}

function renderRelease(release: ReleaseRow) {
  const links = JSON.parse(release.links) as { name: string; url: string; link_type: string }[];
  return {
    tag_name: release.tagName,
    name: release.name,
    description: release.description,
    created_at: iso(release.createdAt),
    released_at: iso(release.releasedAt),
    commit: { id: release.sha },
    milestones: (JSON.parse(release.milestones) as string[]).map((title) => ({ title })),
    assets: { count: links.length, links },
  };
}

const tagParams = {
  type: 'object',
  required: ['id', 'tag_name'],
  properties: { ...projectParams.properties, tag_name: { type: 'string', minLength: 1, maxLength: 255 } },
} as const;

/** `GET /projects/:id/releases` (newest first) and `GET …/releases/:tag_name`: what `release:` jobs recorded. */
export function registerReleaseRoutes(app: FastifyInstance, context: ServerContext): void {
  const db = context.coordinator.store.db;

  app.get<{ Params: { id: string } }>(
    '/api/v4/projects/:id/releases',
    { schema: { params: projectParams } },
    async (request) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.reporter);
      return (await listReleases(db, project.id)).map(renderRelease);
    },
  );

  app.get<{ Params: { id: string; tag_name: string } }>(
    '/api/v4/projects/:id/releases/:tag_name',
    { schema: { params: tagParams } },
    async (request) => {
      const { project } = await authenticateForProject(context, request, ACCESS_LEVELS.reporter);
      const release = (await listReleases(db, project.id)).find(
        (candidate) => candidate.tagName === request.params.tag_name,
      );
      if (!release) throw new TesseraError('ERR_NOT_FOUND', `release ${request.params.tag_name} not found`);
      return renderRelease(release);
    },
  );
}
