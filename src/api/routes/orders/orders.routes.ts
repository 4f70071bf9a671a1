import { createHash } from 'node:crypto';
import { z } from 'zod';
import stringify from 'safe-stable-stringify';
import type { FastifyInstance } from 'fastify';
import { OrderSubmission } from '../../../model/order.ts';
import { findOrderById, listOrders, readTimeline } from '../../../store/orders/order-queries.ts';
import type { ApiContext } from '../../api-context.ts';
import { authorize } from '../../auth/authorize.ts';
import { readTraceparent } from '../../correlation.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody, parseQuery } from '../../validation.ts';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

const OrderListQuery = z.strictObject({
  channel: z.string().min(1).optional(),
  channelOrderId: z.string().min(1).optional(),
  before: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

/** Orders experience API: intake, lookup and timeline. */
export async function ordersRoutes(app: FastifyInstance, { db, tokens, intake }: ApiContext): Promise<void> {
  const canWrite = authorize(tokens, 'orders:write');
  const canRead = authorize(tokens, 'orders:read');

  app.post('/v1/orders', { preHandler: canWrite }, async (request, reply) => {
    const key = request.headers['idempotency-key'];
    if (key === undefined) {
      throw new ProblemError('idempotency-key-missing', 'Send a unique Idempotency-Key header with every POST /v1/orders; reuse it only to retry the same request.');
    }
    if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
      throw new ProblemError('idempotency-key-invalid', 'Idempotency-Key must be 1-255 printable ASCII characters without spaces.');
    }
    const submission = parseBody(OrderSubmission, request.body);
    const fingerprint = createHash('sha256').update(stringify(request.body) ?? '').digest('base64url');
    const result = await intake.submit(submission, {
      correlationId: request.id,
      traceparent: readTraceparent(request.headers),
      idempotency: { scope: request.principal!.clientId, key, fingerprint },
    });
    switch (result.kind) {
      case 'created':
        return reply.code(201).header('Location', `/v1/orders/${result.order.id}`).send(result.order);
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

  app.get('/v1/orders/:id', { preHandler: canRead }, async (request) => {
    const { id } = request.params as { id: string };
    const order = await findOrderById(db, id);
    if (!order) throw new ProblemError('not-found', `No order with id ${id}.`);
    return order;
  });

  app.get('/v1/orders', { preHandler: canRead }, async (request) => {
    const query = parseQuery(OrderListQuery, request.query);
    const orders = await listOrders(db, query);
    const last = orders.at(-1);
    return { data: orders, nextBefore: orders.length === query.limit && last ? last.id : null };
  });

  app.get('/v1/orders/:id/timeline', { preHandler: canRead }, async (request) => {
    const { id } = request.params as { id: string };
    const order = await findOrderById(db, id);
    if (!order) throw new ProblemError('not-found', `No order with id ${id}.`);
    return { orderId: id, entries: await readTimeline(db, id) };
  });
}
