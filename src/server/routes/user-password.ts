import type { FastifyInstance } from 'fastify';
import { setUserPassword } from '../../coordinator/password.js';
import { TesseraError } from '../../errors.js';
import { authenticateAdmin } from '../authenticate.js';
import { idParams } from '../schemas.js';
import type { ServerContext } from '../server-context.js';
import { renderUserPrivate } from './users.js';

/**
 * `PUT /users/:id` (admins): GitLab's user modification; Tessera takes `password` (the web UI's
 * sign-in password) and refuses any other field rather than ignore it.
 */
export function registerUserPasswordRoutes(app: FastifyInstance, context: ServerContext): void {
  const { coordinator } = context;
  app.put<{ Params: { id: number }; Body: { password: string } }>(
    '/api/v4/users/:id',
    {
      schema: {
        params: idParams,
        body: {
          type: 'object',
          required: ['password'],
          additionalProperties: false,
          properties: { password: { type: 'string', maxLength: 1024 } },
        },
      },
    },
    async (request) => {
      await authenticateAdmin(context, request);
      const user = await coordinator.repos.users.findById(request.params.id);
      if (!user) throw new TesseraError('ERR_NOT_FOUND', `user ${request.params.id} not found`);
      await setUserPassword(coordinator, user.id, request.body.password);
      return renderUserPrivate(user, coordinator.urls.serverUrl);
    },
  );
}
