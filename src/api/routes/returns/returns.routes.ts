import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { OrderReturn, ReturnRequest } from '../../../model/order-actions.ts';
import { readCustomerTimeline, readReturn } from '../../../store/orders/order-lifecycle-queries.ts';
import { requestReturn } from '../../../flows/return/return-request.ts';
import type { ApiContext } from '../../api-context.ts';
import { idempotencyClaim, settle } from '../../idempotency.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody } from '../../validation.ts';
import { operation } from '../../route-kit.ts';

const CustomerTimeline = z
  .object({ email: z.string(), entries: z.array(z.object({ at: z.string(), action: z.string(), orderId: z.string().nullable(), detail: z.record(z.string(), z.unknown()).nullable() })) })
  .meta({ id: 'CustomerTimeline' });

const returnExample = {
  id: 'ret_01jd5q8x7m2v3k4n5p6r7s8ta5',
  orderId: 'ord_01jd5q8x7m2v3k4n5p6r7s8t9w',
  lines: [{ lineNumber: 1, sku: 'TEE-M-BLK', quantity: 1, condition: 'resellable', unitPrice: '19.99' }],
  locationCode: 'STORE-NYC',
  reason: 'Too small',
  refundAmount: '19.99',
  status: 'requested',
  refundId: null,
  creditNote: null,
  correlationId: '01JD5Q8X7M2V3K4N5P6R7S8T9W',
  createdAt: '2026-11-25T15:00:00.000Z',
  completedAt: null,
  exception: null,
  channelRefund: null,
};

const createReturn = operation({
  operationId: 'createReturn',
  tags: ['Returns'],
  summary: 'Return shipped goods (in a store, or to a warehouse)',
  description:
    'Checked at once against shipped quantities (less earlier returns) and the return window; the refund, ERP credit note and restock of resellable units at the receiving location follow.',
  auth: 'orders:write',
  idempotencyKey: 'required',
  body: {
    schema: ReturnRequest,
    example: { orderId: returnExample.orderId, location: 'STORE-NYC', reason: 'Too small', lines: [{ lineNumber: 1, quantity: 1, condition: 'resellable' }] },
  },
  responses: {
    202: { description: 'Accepted.', schema: OrderReturn, example: returnExample, headers: { Location: { description: 'The return: /v1/returns/{id}.' } } },
  },
  problems: {
    'validation-failed': 'errors names each failing field, or /orderId when the order is unknown.',
    'return-not-eligible': 'errors points at each line that was not shipped, already returned or out of the return window.',
  },
});

const getReturn = operation({
  operationId: 'getReturn',
  tags: ['Returns'],
  summary: 'A return: refund, credit note, status',
  auth: 'orders:read',
  params: { id: 'Return id (ret_…).' },
  responses: { 200: { description: 'The return.', schema: OrderReturn, example: { ...returnExample, status: 'completed', refundId: 'rf_91', completedAt: '2026-11-25T15:00:05.000Z' } } },
  problems: { 'not-found': 'No such return.' },
});

const getCustomerTimeline = operation({
  operationId: 'getCustomerTimeline',
  tags: ['Returns'],
  summary: "What happened to a customer's orders after sale (returns, refunds)",
  auth: 'orders:read',
  params: { email: "The customer's e-mail address (case-insensitive)." },
  responses: {
    200: {
      description: 'Entries, oldest first.',
      schema: CustomerTimeline,
      example: { email: 'ada@example.com', entries: [{ at: '2026-11-25T15:00:05.000Z', action: 'return.refunded', orderId: returnExample.orderId, detail: { amount: '19.99' } }] },
    },
  },
});

/** Returns: accepted at once when eligible; refund, ERP credit and restock follow in the return flow. */
export async function returnsRoutes(app: FastifyInstance, { db, inventory, config }: ApiContext): Promise<void> {

  app.post('/v1/returns', { schema: createReturn }, async (request, reply) => {
    const body = parseBody(ReturnRequest, request.body);
    const claim = idempotencyClaim(request, { required: true });
    const result = settle(reply, await requestReturn(db, inventory, config.returnWindowDays, body, { correlationId: request.id, idempotency: claim }));
    switch (result.kind) {
      case 'order-not-found':
        throw new ProblemError('validation-failed', `No order with id ${body.orderId}.`, { errors: [{ pointer: '/orderId', detail: 'is not a known order' }] });
      case 'not-eligible':
        throw new ProblemError('return-not-eligible', `${result.problems.length} part(s) of the return are not eligible.`, { errors: result.problems });
      case 'accepted':
        return reply.code(202).header('Location', `/v1/returns/${result.return.id}`).send(result.return);
    }
  });

  app.get('/v1/returns/:id', { schema: getReturn }, async (request) => {
    const { id } = request.params as { id: string };
    const found = await readReturn(db, id);
    if (!found) throw new ProblemError('not-found', `No return with id ${id}.`);
    return found;
  });

  app.get('/v1/customers/:email/timeline', { schema: getCustomerTimeline }, async (request) => {
    const { email } = request.params as { email: string };
    return { email: email.toLowerCase(), entries: await readCustomerTimeline(db, email) };
  });
}
