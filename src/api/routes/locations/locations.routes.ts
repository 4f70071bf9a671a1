import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { Location, LocationInput } from '../../../model/inventory.ts';
import type { ApiContext } from '../../api-context.ts';
import { idempotencyClaim, settle } from '../../idempotency.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody } from '../../validation.ts';
import { operation } from '../../route-kit.ts';
import { locationExample } from '../examples.ts';

const LocationList = z.object({ data: z.array(Location) }).meta({ id: 'LocationList' });

const createLocation = operation({
  operationId: 'createLocation',
  tags: ['Locations'],
  summary: 'Create a stock location (warehouse, store or 3PL)',
  auth: 'inventory:write',
  idempotencyKey: 'required',
  body: { schema: LocationInput, example: { code: 'WH-EAST', name: 'East warehouse', kind: 'warehouse' } },
  responses: { 201: { description: 'Created.', schema: Location, example: locationExample, headers: { Location: { description: 'The location: /v1/locations/{id}.' } } } },
  problems: { 'location-code-taken': 'Another location has this code; existingLocationId names it.' },
});

const listLocations = operation({
  operationId: 'listLocations',
  tags: ['Locations'],
  summary: 'List locations by code',
  auth: 'inventory:read',
  responses: { 200: { description: 'Every location.', schema: LocationList, example: { data: [locationExample] } } },
});

const getLocation = operation({
  operationId: 'getLocation',
  tags: ['Locations'],
  summary: 'Get a location by id or code',
  auth: 'inventory:read',
  params: { ref: 'Location id (loc_…) or code.' },
  responses: { 200: { description: 'The location.', schema: Location, example: locationExample } },
  problems: { 'not-found': 'No such location.' },
});

/** Stock locations: warehouses, stores and 3PLs. */
export async function locationsRoutes(app: FastifyInstance, { inventory }: ApiContext): Promise<void> {
  app.post('/v1/locations', { schema: createLocation }, async (request, reply) => {
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

  app.get('/v1/locations', { schema: listLocations }, async () => ({ data: await inventory.listLocations() }));

  app.get('/v1/locations/:ref', { schema: getLocation }, async (request) => {
    const { ref } = request.params as { ref: string };
    const location = await inventory.findLocation(ref);
    if (!location) throw new ProblemError('not-found', `No location with id or code ${ref}.`);
    return location;
  });
}
