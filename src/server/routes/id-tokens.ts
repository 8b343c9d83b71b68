import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../server-context.js';

/** Placeholder until the routes land. */
export function registerIdTokenRoutes(_app: FastifyInstance, _context: ServerContext): void {}
