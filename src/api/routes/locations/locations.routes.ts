import type { FastifyInstance } from 'fastify';
import { LocationInput } from '../../../model/inventory.ts';
import type { ApiContext } from '../../api-context.ts';
import { authorize } from '../../auth/authorize.ts';
import { idempotencyClaim, settle } from '../../idempotency.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody } from '../../validation.ts';

/** Stock locations: warehouses, stores and 3PLs. */
export async function locationsRoutes(app: FastifyInstance, { tokens, inventory }: ApiContext): Promise<void> {
  app.post('/v1/locations', { preHandler: authorize(tokens, 'inventory:write') }, async (request, reply) => {
    const claim = idempotencyClaim(request, { required: true });
    const input = parseBody(LocationInput, request.body);
    const result = settle(reply, await inventory.createLocation(input, { correlationId: request.id, idempotency: claim }));
    if (result.kind === 'code-taken') {
      const existing = await inventory.findLocation(result.code);
      throw new ProblemError('location-code-taken', `Location code ${result.code} is already used by ${existing?.id ?? 'another location'}.`, {
        existingLocationId: existing?.id,
      });
    }
    return reply.code(201).header('Location', `/v1/locations/${result.location.id}`).send(result.location);
  });

  app.get('/v1/locations', { preHandler: authorize(tokens, 'inventory:read') }, async () => ({ data: await inventory.listLocations() }));

  app.get('/v1/locations/:ref', { preHandler: authorize(tokens, 'inventory:read') }, async (request) => {
    const { ref } = request.params as { ref: string };
    const location = await inventory.findLocation(ref);
    if (!location) throw new ProblemError('not-found', `No location with id or code ${ref}.`);
    return location;
  });
}
