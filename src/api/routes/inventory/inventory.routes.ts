import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { LocationRef, MovementRequest, Sku } from '../../../model/inventory.ts';
import { ChannelSlug } from '../../../model/order.ts';
import type { ApiContext } from '../../api-context.ts';
import { authorize } from '../../auth/authorize.ts';
import { readTraceparent } from '../../correlation.ts';
import { idempotencyClaim, settle } from '../../idempotency.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody, parseQuery } from '../../validation.ts';
import { known } from './unknown-locations.ts';

const AvailabilityQuery = z.strictObject({ sku: Sku, channel: ChannelSlug.optional(), location: LocationRef.optional() });

const LedgerQuery = z.strictObject({
  sku: Sku,
  location: LocationRef.optional(),
  after: z.string().regex(/^\d{1,19}$/, 'must be a ledger entry id').optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** Stock movements, the ledger and availability. */
export async function inventoryRoutes(app: FastifyInstance, { tokens, inventory }: ApiContext): Promise<void> {
  const canWrite = authorize(tokens, 'inventory:write');
  const canRead = authorize(tokens, 'inventory:read');

  app.post('/v1/inventory/movements', { preHandler: canWrite }, async (request, reply) => {
    const claim = idempotencyClaim(request, { required: true });
    const body = parseBody(MovementRequest, request.body);
    const outcome = known(await inventory.recordMovements(body, { correlationId: request.id, traceparent: readTraceparent(request.headers), idempotency: claim }));
    const result = settle(reply, outcome);
    if (result.kind === 'rejected') {
      throw new ProblemError('movement-rejected', `${result.problems.length} movement(s) cannot be applied; nothing was recorded.`, { errors: result.problems });
    }
    return reply.code(201).send(result.receipt);
  });

  app.get('/v1/inventory/movements', { preHandler: canRead }, async (request) => {
    const query = parseQuery(LedgerQuery, request.query);
    const entries = known(await inventory.readLedger(query), 'query');
    return { data: entries, nextAfter: entries.length === query.limit ? entries.at(-1)!.id : null };
  });

  app.get('/v1/inventory/availability', { preHandler: canRead }, async (request) => {
    const query = parseQuery(AvailabilityQuery, request.query);
    return known(await inventory.getAvailability(query), 'query');
  });
}
