import { z } from 'zod';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { idBoundary, isId } from '../../../model/ids.ts';
import { CancelRequest, HoldReleaseRequest } from '../../../model/order-actions.ts';
import { OrderStatus } from '../../../model/order.ts';
import { consoleActor, recordAudit } from '../../../domain/audit/audit.ts';
import { releaseHold, requestCancel, retryOrder } from '../../../flows/cancel/cancel-request.ts';
import { erpTarget } from '../../../flows/erp-routing/erp-router.ts';
import { OpsService } from '../../../runtime/ops.service.ts';
import { readErpRoute } from '../../../store/erp-routing/erp-routing-queries.ts';
import { findReservationsByReference, toReservation } from '../../../store/inventory/reservation-queries.ts';
import { kpiSeries } from '../../../store/metrics/kpi-series.ts';
import { listOrderReturns, readFulfilments, readLineStates, readOrderFlow, readShipments } from '../../../store/orders/order-lifecycle-queries.ts';
import { findOrderById, listOrders, readTimeline } from '../../../store/orders/order-queries.ts';
import type { ApiContext } from '../../api-context.ts';
import { ProblemError } from '../../problem.ts';
import { parseBody, parseQuery } from '../../validation.ts';
import { forBrowser } from './console-masking.ts';
import { requireConsole } from './console-session.ts';

/**
 * The console's orders (search, one order with everything about it, and the operator's actions on
 * it: release a hold, retry, cancel) and the overview's sparklines and ERP quota use
 * (docs/console.md). Registered by consoleRoutes, so its policy headers apply. Routes call the
 * same services and queries as /v1; answers pass forBrowser().
 */

const hidden = { hide: true };

const OrderSearch = z.strictObject({
  q: z.string().trim().max(254).optional().meta({ description: 'An order id (ord_…), a customer e-mail or a channel order id.' }),
  status: OrderStatus.optional(),
  channel: z.string().min(1).max(64).optional(),
  before: z.string().refine((v) => isId('order', v), 'must be an order id').optional(),
  from: z.iso.date().optional().meta({ description: 'Orders received on this day (UTC) or later.' }),
  to: z.iso.date().optional().meta({ description: 'Orders received on this day (UTC) or earlier.' }),
  limit: z.coerce.number().int().min(1).max(100).default(25),
}).refine((q) => !q.from || !q.to || q.from <= q.to, { message: 'from must not be after to', path: ['from'] });
const DAY_MS = 86_400_000;
const SeriesQuery = z.strictObject({ window: z.enum(['hour', 'day']).default('hour') });

export async function consoleOrdersRoutes(app: FastifyInstance, { db, config }: ApiContext): Promise<void> {
  const idle = config.consoleIdleSeconds;
  const viewer = requireConsole(db, idle, 'viewer');
  const operator = requireConsole(db, idle, 'operator');
  const ops = new OpsService(db);

  const actor = (request: FastifyRequest) => consoleActor(request.consoleSession!.userId);
  const who = (request: FastifyRequest) => ({ actor: actor(request), correlationId: request.id });
  const masked = (request: FastifyRequest) => request.consoleSession!.role === 'viewer';
  const orderId = (request: FastifyRequest) => {
    const { id } = request.params as { id: string };
    if (!isId('order', id)) throw new ProblemError('not-found', `No order with id ${id}.`);
    return id;
  };

  // --- overview: sparklines and ERP quota -----------------------------------------------------

  app.get('/console/api/overview/series', { schema: hidden, preHandler: viewer }, async (request) => {
    const { window } = parseQuery(SeriesQuery, request.query);
    return kpiSeries(db, window);
  });

  app.get('/console/api/overview/erp-quota', { schema: hidden, preHandler: viewer }, async (request) => {
    // Every ERP connection and the runtime target its calls run on (one ERP: the `erp` target).
    const connections = config.connections.connections.filter((c) => c.kind === 'erp');
    const erps = config.connections.erpRouting
      ? connections.map((c) => ({ name: c.id, target: erpTarget(config, c.id) }))
      : [{ name: connections[0]?.id ?? 'erp', target: erpTarget(config, connections[0]?.id ?? 'erp') }];
    return forBrowser({ items: await ops.quotaUse(erps) }, masked(request));
  });

  // --- orders --------------------------------------------------------------------------------

  app.get('/console/api/orders', { schema: hidden, preHandler: viewer }, async (request) => {
    const { q, status, channel, before, from, to, limit } = parseQuery(OrderSearch, request.query);
    // A range of days is a range of order ids (ids sort by when the order was received).
    const notBefore = from ? idBoundary('order', new Date(`${from}T00:00:00Z`)) : undefined;
    const end = to ? idBoundary('order', new Date(Date.parse(`${to}T00:00:00Z`) + DAY_MS)) : undefined;
    const filter = { status, channel, before: before && end ? (before < end ? before : end) : (before ?? end), notBefore, limit };
    const inRange = (id: string) => (!notBefore || id >= notBefore) && (!end || id < end);
    let orders;
    if (q && isId('order', q)) {
      const order = await findOrderById(db, q);
      orders = order && (!status || order.status === status) && (!channel || order.channel === channel) && inRange(order.id) ? [order] : [];
    } else if (q && q.includes('@')) {
      orders = await listOrders(db, { ...filter, customerEmail: q });
    } else {
      orders = await listOrders(db, { ...filter, channelOrderId: q || undefined });
    }
    const items = orders.map((o) => ({
      id: o.id,
      channel: o.channel,
      channelOrderId: o.channelOrderId,
      status: o.status,
      customerEmail: o.customer.email,
      grandTotal: o.totals.grandTotal,
      currency: o.currency,
      placedAt: o.placedAt,
      held: o.hold !== undefined,
    }));
    return forBrowser({ items, next: orders.length === limit ? orders.at(-1)!.id : null }, masked(request));
  });

  app.get('/console/api/orders/:id', { schema: hidden, preHandler: viewer }, async (request) => {
    const id = orderId(request);
    const order = await findOrderById(db, id);
    if (!order) throw new ProblemError('not-found', `No order with id ${id}.`);
    const [timeline, reservations, flow, route, lines, fulfilments, shipments, returns] = await Promise.all([
      readTimeline(db, id),
      findReservationsByReference(db, id),
      readOrderFlow(db, id),
      readErpRoute(db, id),
      readLineStates(db, id),
      readFulfilments(db, id),
      readShipments(db, id),
      listOrderReturns(db, id),
    ]);
    return forBrowser(
      {
        order,
        timeline,
        reservations: reservations.map(toReservation),
        route: {
          erp: route?.erp ?? null,
          shadow: route?.shadow ?? null,
          erpTarget: route ? erpTarget(config, route.erp) : null,
          locations: fulfilments.map((f) => ({ location: f.locationCode, kind: f.locationKind, status: f.status, externalId: f.externalId, lines: f.lines })),
        },
        lineStates: lines,
        shipments,
        erpSale: flow?.erp_sale ?? null,
        invoices: flow?.invoices ?? [],
        returns,
      },
      masked(request),
    );
  });

  app.post('/console/api/orders/:id/hold/release', { schema: hidden, preHandler: operator }, async (request, reply) => {
    const id = orderId(request);
    const body = parseBody(HoldReleaseRequest, request.body ?? {});
    const result = await releaseHold(db, id, { releasedBy: actor(request), note: body.note ?? null, correlationId: request.id });
    if (result.kind === 'not-found') throw new ProblemError('not-found', `No order with id ${id}.`);
    if (result.kind === 'not-on-hold') throw new ProblemError('order-not-on-hold', `Order ${id} is ${result.status}, not on hold.`, { orderStatus: result.status });
    if (result.kind === 'amendment-hold') throw new ProblemError('order-held-for-amendment', `Order ${id} waits for a decision on the channel's change ${result.amendmentId}: apply or reject it.`, { amendmentId: result.amendmentId });
    await recordAudit(db, who(request), { action: 'order.hold_released', targetType: 'order', targetId: id });
    return reply.code(202).send({ orderId: id, status: 'validated', resumed: true });
  });

  // An order in the exception state: its open dead letters are replayed (the cause was fixed).
  app.post('/console/api/orders/:id/retry', { schema: hidden, preHandler: operator }, async (request, reply) => {
    const id = orderId(request);
    parseBody(z.strictObject({}), request.body ?? {});
    const result = await retryOrder(db, id, actor(request));
    if (result.kind === 'not-found') throw new ProblemError('not-found', `No order with id ${id}.`);
    if (result.kind === 'no-exception') throw new ProblemError('order-not-in-exception', `Order ${id} is ${result.status} and has no open exception to retry.`, { orderStatus: result.status });
    const deadLetters = result.replayed.map((r) => r.deadLetterId);
    await recordAudit(db, who(request), { action: 'order.retried', targetType: 'order', targetId: id, details: { deadLetters } });
    return reply.code(202).send({ orderId: id, replayed: result.replayed });
  });

  // The same cancel as POST /v1/orders/{id}/cancel; its refusals come back as problems the page shows.
  app.post('/console/api/orders/:id/cancel', { schema: hidden, preHandler: operator }, async (request, reply) => {
    const id = orderId(request);
    const body = parseBody(CancelRequest, request.body ?? {});
    const outcome = await requestCancel(db, id, { reason: body.reason ?? null, requestedBy: actor(request), correlationId: request.id });
    const result = outcome.kind === 'done' ? outcome.result : undefined;
    switch (result?.kind) {
      case 'not-found':
        throw new ProblemError('not-found', `No order with id ${id}.`);
      case 'shipped':
        throw new ProblemError('order-shipped', `Order ${id} is ${result.status}: its goods have left, so it cannot be cancelled. Create a return instead.`, { orderStatus: result.status });
      case 'not-cancellable':
        throw new ProblemError('order-not-cancellable', `Order ${id} is ${result.status} and cannot be cancelled.`, { orderStatus: result.status });
      case 'accepted':
        // An open cancellation answered again was audited by the request that made it.
        if (result.cancellation.correlationId === request.id) {
          await recordAudit(db, who(request), { action: 'order.cancel_requested', targetType: 'order', targetId: id, details: { cancellationId: result.cancellation.id } });
        }
        return reply.code(202).send(forBrowser(result.cancellation, masked(request)));
      default:
        throw new ProblemError('internal', `The cancel of order ${id} did not settle.`);
    }
  });
}
