import type { FastifyInstance } from 'fastify';
import { authenticate } from '../authenticate.js';
import type { ServerContext } from '../server-context.js';

/** Tessera's version (as `tessera --version`). */
const TESSERA_VERSION = '0.1.0';

/**
 * What `GET /version` and `GET /metadata` report as the version: the GitLab release whose API v4
 * Tessera follows, with Tessera's own version as a SemVer pre-release tag, so clients that compare
 * GitLab versions (glab, python-gitlab's feature checks) see a modern API and people see Tessera.
 */
export const REPORTED_VERSION = `17.0.0-tessera.${TESSERA_VERSION}`;

/**
 * `GET /version` and `GET /metadata` (GitLab's shapes: `version`, `revision`, and for metadata
 * `kas` and `enterprise`). Tessera has no KAS (the agent for Kubernetes): `kas.enabled` is false.
 * Any signed-in user may ask, as on GitLab.
 */
export function registerInstanceMetadataRoutes(app: FastifyInstance, context: ServerContext): void {
  app.get('/api/v4/version', async (request) => {
    await authenticate(context, request);
    return { version: REPORTED_VERSION, revision: 'tessera' };
  });
  app.get('/api/v4/metadata', async (request) => {
    await authenticate(context, request);
    return {
      version: REPORTED_VERSION,
      revision: 'tessera',
      kas: { enabled: false, externalUrl: null, externalK8sProxyUrl: null, version: null },
      enterprise: false,
    };
  });
}
