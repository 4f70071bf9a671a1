import { hash } from 'node:crypto';
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { Order, OrderSubmission, TimelineEntry } from '../../../model/order.ts';
import { findOrderById, listOrders, readTimeline } from '../../../store/orders/order-queries.ts';
import type { ApiContext } from '../../api-context.ts';
import { currentTraceContext } from '../../../observability/tracing.ts';
import { idempotencyKeyOf } from '../../idempotency.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody, parseQuery } from '../../validation.ts';
import { operation } from '../../route-kit.ts';
import { orderExample, submissionExample, timelineExample } from '../examples.ts';

const OrderListQuery = z.strictObject({
  channel: z.string().min(1).optional(),
  channelOrderId: z.string().min(1).optional(),
  before: z.string().min(1).optional().meta({ description: 'Order id from nextBefore of the previous page.' }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const OrderList = z.object({ data: z.array(Order), nextBefore: z.string().nullable() }).meta({ id: 'OrderList' });
const Timeline = z.object({ orderId: z.string(), entries: z.array(TimelineEntry) }).meta({ id: 'Timeline' });
const orderLocation = { Location: { description: 'The order: /v1/orders/{id}.' } };
const orderId = { id: 'Order id (ord_…).' };

/** Orders experience API: intake, lookup and timeline. */
export async function ordersRoutes(app: FastifyInstance, { db, intake }: ApiContext): Promise<void> {

  const submitOrder = operation({
    operationId: 'submitOrder',
    tags: ['Orders'],
    summary: 'Submit an order from a sales channel',
    description: 'Accepted orders start the order-placed flow. Resending with the same Idempotency-Key replays the first answer.',
    auth: 'orders:write',
    idempotencyKey: 'required',
    body: { schema: OrderSubmission, example: submissionExample },
    responses: {
      201: { description: 'Order accepted (or the first answer replayed, with Idempotent-Replayed: true).', schema: Order, example: orderExample, headers: orderLocation },
    },
    problems: { 'duplicate-order': 'The channel order was already submitted; existingOrderId and Location name it.' },
  });
  app.post('/v1/orders', { schema: submitOrder }, async (request, reply) => {
    const key = idempotencyKeyOf(request, { required: true })!;
    const submission = parseBody(OrderSubmission, request.body);
    // The fingerprint is of the parsed submission: its keys come out in the schema's order and its
    // values normalised (placedAt in UTC), so two bodies that ask for the same order match whatever
    // their key order, and plain JSON.stringify is canonical without a sorting serialiser.
    const fingerprint = hash('sha256', JSON.stringify(submission), 'base64url');
    const result = await intake.submit(submission, {
      correlationId: request.id,
      ...currentTraceContext(),
      idempotency: { scope: request.principal!.clientId, key, fingerprint },
    });
    switch (result.kind) {
      case 'created':
        // The order's JSON as it was stored: serialising it again for the answer would cost as much.
        return reply.code(201).header('Location', `/v1/orders/${result.order.id}`).type('application/json; charset=utf-8').send(result.json);
      case 'replayed':
        return reply
          .code(result.status)
          .header('Location', `/v1/orders/${result.order.id}`)
          .header('Idempotent-Replayed', 'true')
          .send(result.order);
      case 'key-reused':
        throw new ProblemError('idempotency-key-reused', 'This Idempotency-Key was used for a different request body; use a new key for a new request.');
      case 'key-in-flight':
        throw new ProblemError('idempotency-key-in-flight', 'The first request with this Idempotency-Key has not finished; retry shortly to get its response.', {}, { 'Retry-After': '1' });
      case 'duplicate':
        throw new ProblemError(
          'duplicate-order',
          `Order ${submission.channelOrderId} from channel ${submission.channel} already exists as ${result.existingOrderId}.`,
          { existingOrderId: result.existingOrderId },
          { Location: `/v1/orders/${result.existingOrderId}` },
        );
    }
  });

  const getOrder = operation({
    operationId: 'getOrder',
    tags: ['Orders'],
    summary: 'Get an order',
    auth: 'orders:read',
    params: orderId,
    responses: { 200: { description: 'The order.', schema: Order, example: orderExample } },
    problems: { 'not-found': 'No such order.' },
  });
  app.get('/v1/orders/:id', { schema: getOrder }, async (request) => {
    const { id } = request.params as { id: string };
    const order = await findOrderById(db, id);
    if (!order) throw new ProblemError('not-found', `No order with id ${id}.`);
    return order;
  });

  const listOrdersOperation = operation({
    operationId: 'listOrders',
    tags: ['Orders'],
    summary: 'Find orders, newest first',
    description: 'Pass nextBefore as before to read the next page.',
    auth: 'orders:read',
    query: OrderListQuery,
    responses: { 200: { description: 'Matching orders.', schema: OrderList, example: { data: [orderExample], nextBefore: null } } },
  });
  app.get('/v1/orders', { schema: listOrdersOperation }, async (request) => {
    const query = parseQuery(OrderListQuery, request.query);
    const orders = await listOrders(db, query);
    const last = orders.at(-1);
    return { data: orders, nextBefore: orders.length === query.limit && last ? last.id : null };
  });

  const getOrderTimeline = operation({
    operationId: 'getOrderTimeline',
    tags: ['Orders'],
    summary: 'What happened to an order, oldest first',
    auth: 'orders:read',
    params: orderId,
    responses: { 200: { description: 'The timeline.', schema: Timeline, example: timelineExample } },
    problems: { 'not-found': 'No such order.' },
  });
  app.get('/v1/orders/:id/timeline', { schema: getOrderTimeline }, async (request) => {
    const { id } = request.params as { id: string };
    const order = await findOrderById(db, id);
    if (!order) throw new ProblemError('not-found', `No order with id ${id}.`);
    return { orderId: id, entries: await readTimeline(db, id) };
  });
}
