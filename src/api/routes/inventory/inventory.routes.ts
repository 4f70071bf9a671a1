import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { Availability, LedgerEntry, LocationRef, MovementReceipt, MovementRequest, Sku } from '../../../model/inventory.ts';
import { ChannelSlug } from '../../../model/order.ts';
import type { ApiContext } from '../../api-context.ts';
import { currentTraceContext } from '../../../observability/tracing.ts';
import { idempotencyClaim, settle } from '../../idempotency.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody, parseQuery } from '../../validation.ts';
import { known } from './unknown-locations.ts';
import { operation } from '../../route-kit.ts';
import { availabilityExample, ledgerPageExample, movementReceiptExample, movementRequestExample } from '../examples.ts';

const AvailabilityQuery = z.strictObject({
  sku: Sku,
  channel: ChannelSlug.optional().meta({ description: 'Channel slug; absent: the shared pool over every location.' }),
  location: LocationRef.optional().meta({ description: 'Narrow to one location (id or code).' }),
});

const LedgerQuery = z.strictObject({
  sku: Sku,
  location: LocationRef.optional(),
  after: z.string().regex(/^\d{1,19}$/, 'must be a ledger entry id').optional().meta({ description: 'Entry id from nextAfter of the previous page.' }),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

const LedgerPage = z.object({ data: z.array(LedgerEntry), nextAfter: z.string().nullable() }).meta({ id: 'LedgerPage' });

const recordMovements = operation({
  operationId: 'recordMovements',
  tags: ['Inventory'],
  summary: 'Record stock movements that commit together (receipt, adjustment, transfer, count, return)',
  auth: 'inventory:write',
  idempotencyKey: 'required',
  body: { schema: MovementRequest, example: movementRequestExample },
  responses: { 201: { description: 'Recorded: the ledger entries and the balances after them.', schema: MovementReceipt, example: movementReceiptExample } },
  problems: {
    'validation-failed': 'errors names each failing field, including unknown locations.',
    'movement-rejected': 'A decrease would take on hand below zero or below what is reserved; errors points at each movement. Nothing was recorded.',
  },
});

const readLedger = operation({
  operationId: 'readLedger',
  tags: ['Inventory'],
  summary: 'Read the movement ledger of a SKU, oldest first',
  auth: 'inventory:read',
  query: LedgerQuery,
  responses: { 200: { description: 'A page of ledger entries; pass nextAfter as after to continue.', schema: LedgerPage, example: ledgerPageExample } },
  problems: { 'invalid-query': 'errors names each failing parameter, including an unknown location.' },
});

const getAvailability = operation({
  operationId: 'getAvailability',
  tags: ['Inventory'],
  summary: 'What a channel may sell now, per location, with the derivation',
  auth: 'inventory:read',
  query: AvailabilityQuery,
  responses: { 200: { description: 'Availability and how it was derived.', schema: Availability, example: availabilityExample } },
  problems: { 'invalid-query': 'errors names each failing parameter, including an unknown location.' },
});

/** Stock movements, the ledger and availability. */
export async function inventoryRoutes(app: FastifyInstance, { inventory }: ApiContext): Promise<void> {

  app.post('/v1/inventory/movements', { schema: recordMovements }, async (request, reply) => {
    const claim = idempotencyClaim(request, { required: true });
    const body = parseBody(MovementRequest, request.body);
    const outcome = known(await inventory.recordMovements(body, { correlationId: request.id, ...currentTraceContext(), idempotency: claim }));
    const result = settle(reply, outcome);
    if (result.kind === 'rejected') {
      throw new ProblemError('movement-rejected', `${result.problems.length} movement(s) cannot be applied; nothing was recorded.`, { errors: result.problems });
    }
    return reply.code(201).send(result.receipt);
  });

  app.get('/v1/inventory/movements', { schema: readLedger }, async (request) => {
    const query = parseQuery(LedgerQuery, request.query);
    const entries = known(await inventory.readLedger(query), 'query');
    return { data: entries, nextAfter: entries.length === query.limit ? entries.at(-1)!.id : null };
  });

  app.get('/v1/inventory/availability', { schema: getAvailability }, async (request) => {
    const query = parseQuery(AvailabilityQuery, request.query);
    return known(await inventory.getAvailability(query), 'query');
  });
}
