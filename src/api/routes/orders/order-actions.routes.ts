import type { FastifyInstance } from 'fastify';
import { CancelRequest, HoldReleaseRequest } from '../../../model/order-actions.ts';
import { findOrderById } from '../../../store/orders/order-queries.ts';
import {
  readCancellation,
  readFulfilments,
  readLineStates,
  readOrderFlow,
  readShipments,
} from '../../../store/orders/order-lifecycle-queries.ts';
import { releaseHold, requestCancel } from '../../../flows/cancel/cancel-request.ts';
import type { ApiContext } from '../../api-context.ts';
import { authorize } from '../../auth/authorize.ts';
import { idempotencyClaim, settle } from '../../idempotency.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody } from '../../validation.ts';
import { clientActor, recordAudit } from '../../../domain/audit/audit.ts';

/**
 * Actions on an order's lifecycle: cancel (orders:write), release a hold (ops:write, an
 * operator's decision), and the lifecycle view (fulfilments, shipments with tracking,
 * invoices, holds) for channels and operators (orders:read).
 */
export async function orderActionsRoutes(app: FastifyInstance, { db, tokens }: ApiContext): Promise<void> {
  const canWrite = authorize(tokens, 'orders:write');
  const canRead = authorize(tokens, 'orders:read');
  const canOperate = authorize(tokens, 'ops:write');

  app.post('/v1/orders/:id/cancel', { preHandler: canWrite }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const body = parseBody(CancelRequest, request.body ?? {});
    const claim = idempotencyClaim(request, { required: false });
    const result = settle(reply, await requestCancel(db, id, { reason: body.reason ?? null, requestedBy: request.principal!.clientId, correlationId: request.id, idempotency: claim }));
    switch (result.kind) {
      case 'not-found':
        throw new ProblemError('not-found', `No order with id ${id}.`);
      case 'shipped':
        throw new ProblemError('order-shipped', `Order ${id} is ${result.status}: its goods have left. Create a return with POST /v1/returns instead.`, {
          orderStatus: result.status,
          createReturn: '/v1/returns',
        });
      case 'not-cancellable':
        throw new ProblemError('order-not-cancellable', `Order ${id} is ${result.status} and cannot be cancelled.`, { orderStatus: result.status });
      case 'accepted':
        // Audited right after the cancel request commits (the flow owns that transaction); an
        // idempotent replay or an already open cancellation was audited by the request that made it.
        if (result.cancellation.correlationId === request.id && !reply.getHeader('Idempotent-Replayed')) {
          await recordAudit(db, { actor: clientActor(request.principal!.clientId), correlationId: request.id }, { action: 'order.cancel_requested', targetType: 'order', targetId: id, details: { cancellationId: result.cancellation.id } });
        }
        return reply.code(202).header('Location', `/v1/orders/${id}/cancellations/${result.cancellation.id}`).send(result.cancellation);
    }
  });

  app.get('/v1/orders/:id/cancellations/:cancellationId', { preHandler: canRead }, async (request) => {
    const { id, cancellationId } = request.params as { id: string; cancellationId: string };
    const cancellation = await readCancellation(db, cancellationId);
    if (!cancellation || cancellation.orderId !== id) throw new ProblemError('not-found', `Order ${id} has no cancellation ${cancellationId}.`);
    return cancellation;
  });

  app.post('/v1/orders/:id/hold/release', { preHandler: canOperate }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const body = parseBody(HoldReleaseRequest, request.body ?? {});
    const result = await releaseHold(db, id, { releasedBy: request.principal!.clientId, note: body.note ?? null, correlationId: request.id });
    if (result.kind === 'not-found') throw new ProblemError('not-found', `No order with id ${id}.`);
    if (result.kind === 'not-on-hold') throw new ProblemError('order-not-on-hold', `Order ${id} is ${result.status}, not on hold.`, { orderStatus: result.status });
    await recordAudit(db, { actor: clientActor(request.principal!.clientId), correlationId: request.id }, { action: 'order.hold_released', targetType: 'order', targetId: id });
    return reply.code(202).header('Location', `/v1/orders/${id}`).send({ orderId: id, status: 'validated', resumed: true });
  });

  app.get('/v1/orders/:id/lifecycle', { preHandler: canRead }, async (request) => {
    const { id } = request.params as { id: string };
    const order = await findOrderById(db, id);
    if (!order) throw new ProblemError('not-found', `No order with id ${id}.`);
    const flow = await readOrderFlow(db, id);
    return {
      orderId: id,
      status: order.status,
      hold: flow?.hold_reason ?? null,
      paymentId: flow?.payment_id ?? null,
      erpSale: flow?.erp_sale ?? null,
      invoices: flow?.invoices ?? [],
      lines: await readLineStates(db, id),
      fulfilments: await readFulfilments(db, id),
      shipments: await readShipments(db, id),
    };
  });
}
