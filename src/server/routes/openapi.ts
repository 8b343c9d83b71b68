import type { FastifyInstance, RouteOptions } from 'fastify';
import type { ServerContext } from '../server-context.js';

interface Operation {
  parameters: Array<{ name: string; in: 'path' | 'query'; required: boolean; schema: unknown }>;
  requestBody?: { content: { 'application/json': { schema: unknown } } };
  responses: Record<string, { description: string }>;
}

/**
 * `GET /api/v4/openapi.json`: an OpenAPI 3.1 document built from the routes' own validation
 * schemas (collected as routes are added), so it cannot drift from what the server enforces.
 * Call before registering the other routes.
 */
export function registerOpenApiRoute(app: FastifyInstance, _context: ServerContext): void {
  const paths: Record<string, Record<string, Operation>> = {};
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter(
      (method) => method !== 'HEAD' && method !== 'OPTIONS',
    );
    if (route.url === '*' || route.url.endsWith('/openapi.json')) return;
    // The web UI's pages (src/web/) are not part of the API.
    if ((route.config as { webPage?: boolean } | undefined)?.webPage) return;
    const path = route.url.replace(/:([A-Za-z_]+)/g, '{$1}');
    const schema = (route.schema ?? {}) as {
      params?: { properties?: Record<string, unknown> };
      querystring?: { properties?: Record<string, unknown>; required?: string[] };
      body?: unknown;
    };
    for (const method of methods) {
      const operation: Operation = {
        parameters: [
          ...Object.entries(schema.params?.properties ?? {}).map(([name, value]) => ({
            name,
            in: 'path' as const,
            required: true,
            schema: value,
          })),
          ...Object.entries(schema.querystring?.properties ?? {}).map(([name, value]) => ({
            name,
            in: 'query' as const,
            required: schema.querystring?.required?.includes(name) ?? false,
            schema: value,
          })),
        ],
        responses: { default: { description: 'See docs/api.md; errors are {"error": CODE, "message": …}' } },
      };
      if (schema.body) operation.requestBody = { content: { 'application/json': { schema: schema.body } } };
      paths[path] ??= {};
      paths[path][method.toLowerCase()] = operation;
    }
  });
  app.get('/api/v4/openapi.json', async () => ({
    openapi: '3.1.0',
    info: { title: 'Tessera coordinator API', version: '0.1.0' },
    components: {
      securitySchemes: {
        privateToken: { type: 'apiKey', in: 'header', name: 'PRIVATE-TOKEN' },
        bearer: { type: 'http', scheme: 'bearer' },
      },
    },
    paths,
  }));
}
