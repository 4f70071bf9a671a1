import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { CancelRequest, Cancellation, HoldReleaseRequest } from '../../../model/order-actions.ts';
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
import { idempotencyClaim, settle } from '../../idempotency.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody } from '../../validation.ts';
import { operation } from '../../route-kit.ts';
import { clientActor, recordAudit } from '../../../domain/audit/audit.ts';

// The lifecycle view, as the route assembles it from the store.
const LifecycleView = z
  .object({
    orderId: z.string(),
    status: z.string(),
    hold: z.record(z.string(), z.unknown()).nullable().meta({
      description:
        'Why the order is on hold or waiting for stock: kind validation, fraud or backorder, or exception when a flow failed for good (see OrderException: the system, step, error and dead letter to replay). ' +
        'An exception with statusKept: true comes from a flow after release; the order kept its status and the hold only reports it. Null otherwise.',
    }),
    paymentId: z.string().nullable(),
    erpSale: z.record(z.string(), z.unknown()).nullable(),
    invoices: z.array(z.record(z.string(), z.unknown())),
    lines: z.array(
      z.object({
        lineNumber: z.number().int(),
        sku: z.string(),
        quantity: z.number().int(),
        unitPrice: z.string(),
        shipped: z.number().int(),
        cancelled: z.number().int(),
        returned: z.number().int(),
      }),
    ),
    fulfilments: z.array(z.record(z.string(), z.unknown())),
    shipments: z.array(
      z.object({
        id: z.string(),
        sourceKey: z.string(),
        locationCode: z.string(),
        carrier: z.string().nullable(),
        trackingNumbers: z.array(z.string()),
        lines: z.array(z.record(z.string(), z.unknown())),
        shippedAt: z.string(),
      }),
    ),
  })
  .meta({ id: 'OrderLifecycle', description: 'Where an order is: holds, fulfilments per location, shipments with tracking, invoices.' });
const HoldReleased = z
  .object({ orderId: z.string(), status: z.literal('validated'), resumed: z.literal(true) })
  .meta({ id: 'HoldReleased' });

const orderIdParam = { id: 'Order id (ord_…).' };
const exampleOrderId = 'ord_01jd5q8x7m2v3k4n5p6r7s8t9w';
const cancellationExample = {
  id: 'can_01jd5q8x7m2v3k4n5p6r7s8ta3',
  orderId: exampleOrderId,
  requestedBy: 'client_shop',
  reason: 'Customer changed their mind.',
  status: 'requested',
  report: null,
  correlationId: '01JD5Q8X7M2V3K4N5P6R7S8T9W',
  createdAt: '2026-11-22T11:00:00.000Z',
  finishedAt: null,
};

const cancelOrder = operation({
  operationId: 'cancelOrder',
  tags: ['Orders'],
  summary: 'Cancel an order, as far as it can still be stopped',
  description:
    'Before release to a warehouse or store, the order-placed flow is undone in reverse (reservations released, ERP order cancelled, payment refunded or voided). ' +
    'After release, each open fulfilment is cancelled at the WMS; the cancellation report lists what could not be stopped. After shipment: 409 order-shipped, create a return. ' +
    'Carried out asynchronously: follow the Location.',
  auth: 'orders:write',
  idempotencyKey: 'optional',
  params: orderIdParam,
  body: { schema: CancelRequest, example: { reason: 'Customer changed their mind.' }, required: false },
  responses: {
    202: {
      description: 'Accepted (or the cancellation already open).',
      schema: Cancellation,
      example: cancellationExample,
      headers: { Location: { description: 'The cancellation: /v1/orders/{id}/cancellations/{cancellationId}.' } },
    },
  },
  problems: {
    'not-found': 'No such order.',
    'order-shipped': 'The goods have left: create a return instead (createReturn names the route).',
    'order-not-cancellable': 'The order is already cancelled or its payment failed.',
  },
});

const getCancellation = operation({
  operationId: 'getCancellation',
  tags: ['Orders'],
  summary: 'A cancellation and its report',
  auth: 'orders:read',
  params: { ...orderIdParam, cancellationId: 'Cancellation id (can_…).' },
  responses: {
    200: {
      description: 'The cancellation.',
      schema: Cancellation,
      example: { ...cancellationExample, status: 'completed', report: { undone: ['reservation', 'erp-order', 'payment'], notStopped: [] }, finishedAt: '2026-11-22T11:00:04.000Z' },
    },
  },
  problems: { 'not-found': 'No such cancellation of this order.' },
});

const releaseHoldOperation = operation({
  operationId: 'releaseHold',
  tags: ['Orders'],
  summary: 'Release an order on hold (operator)',
  description: 'An operator reviewed a fraud or validation hold; the order goes back to validated and its flow resumes without applying the hold again.',
  auth: 'ops:write',
  params: orderIdParam,
  body: { schema: HoldReleaseRequest, example: { note: 'Called the customer; the order is genuine.' }, required: false },
  responses: {
    202: {
      description: 'Released; the flow resumed.',
      schema: HoldReleased,
      example: { orderId: exampleOrderId, status: 'validated', resumed: true },
      headers: { Location: { description: 'The order: /v1/orders/{id}.' } },
    },
  },
  problems: {
    'not-found': 'No such order.',
    'order-not-on-hold': 'The order is not on hold; orderStatus says where it is.',
    'order-held-for-amendment': "Held for a channel's change: apply or reject it (the links are in the problem).",
  },
});

const getOrderLifecycle = operation({
  operationId: 'getOrderLifecycle',
  tags: ['Orders'],
  summary: 'Holds, fulfilments, shipments with tracking numbers and invoices of an order',
  auth: 'orders:read',
  params: orderIdParam,
  responses: {
    200: {
      description: 'The lifecycle view.',
      schema: LifecycleView,
      example: {
        orderId: exampleOrderId,
        status: 'shipped',
        hold: null,
        paymentId: 'pay_7f3k',
        erpSale: { id: 812, number: 'SO812' },
        invoices: [],
        lines: [{ lineNumber: 1, sku: 'TEE-M-BLK', quantity: 2, unitPrice: '19.99', shipped: 2, cancelled: 0, returned: 0 }],
        fulfilments: [{ locationCode: 'WH-EAST', status: 'shipped' }],
        shipments: [
          {
            id: 'shp_01jd5q8x7m2v3k4n5p6r7s8ta4',
            sourceKey: 'wms:SHP-88',
            locationCode: 'WH-EAST',
            carrier: 'UPS',
            trackingNumbers: ['1Z999AA10123456784'],
            lines: [{ lineNumber: 1, quantity: 2 }],
            shippedAt: '2026-11-23T09:00:00.000Z',
          },
        ],
      },
    },
  },
  problems: { 'not-found': 'No such order.' },
});

/**
 * Actions on an order's lifecycle: cancel (orders:write), release a hold (ops:write, an
 * operator's decision), and the lifecycle view (fulfilments, shipments with tracking,
 * invoices, holds) for channels and operators (orders:read).
 */
export async function orderActionsRoutes(app: FastifyInstance, { db }: ApiContext): Promise<void> {

  app.post('/v1/orders/:id/cancel', { schema: cancelOrder }, async (request, reply) => {
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

  app.get('/v1/orders/:id/cancellations/:cancellationId', { schema: getCancellation }, async (request) => {
    const { id, cancellationId } = request.params as { id: string; cancellationId: string };
    const cancellation = await readCancellation(db, cancellationId);
    if (!cancellation || cancellation.orderId !== id) throw new ProblemError('not-found', `Order ${id} has no cancellation ${cancellationId}.`);
    return cancellation;
  });

  app.post('/v1/orders/:id/hold/release', { schema: releaseHoldOperation }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const body = parseBody(HoldReleaseRequest, request.body ?? {});
    const result = await releaseHold(db, id, { releasedBy: request.principal!.clientId, note: body.note ?? null, correlationId: request.id });
    if (result.kind === 'not-found') throw new ProblemError('not-found', `No order with id ${id}.`);
    if (result.kind === 'not-on-hold') throw new ProblemError('order-not-on-hold', `Order ${id} is ${result.status}, not on hold.`, { orderStatus: result.status });
    if (result.kind === 'amendment-hold') {
      throw new ProblemError('order-held-for-amendment', `Order ${id} waits for a decision on the channel's change ${result.amendmentId}: apply or reject it.`, {
        amendmentId: result.amendmentId,
        apply: `/v1/orders/${id}/amendments/${result.amendmentId}/apply`,
        reject: `/v1/orders/${id}/amendments/${result.amendmentId}/reject`,
      });
    }
    await recordAudit(db, { actor: clientActor(request.principal!.clientId), correlationId: request.id }, { action: 'order.hold_released', targetType: 'order', targetId: id });
    return reply.code(202).header('Location', `/v1/orders/${id}`).send({ orderId: id, status: 'validated', resumed: true });
  });

  app.get('/v1/orders/:id/lifecycle', { schema: getOrderLifecycle }, async (request) => {
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
