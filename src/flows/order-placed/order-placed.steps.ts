import { SynclineError } from '../../domain/errors.ts';
import { fromScaled, minorUnits, toScaled } from '../../model/money.ts';
import type { OrderBackorderedData } from '../../model/events.ts';
import type { Order } from '../../model/order.ts';
import type { Queryable } from '../../store/database.ts';
import type { Availability } from '../../model/inventory.ts';
import { enqueue } from '../../runtime/queue.ts';
import { readErpRoute } from '../../store/erp-routing/erp-routing-queries.ts';
import { appendEvents } from '../../runtime/outbox/outbox.ts';
import { insertFulfilments, readFulfilments, updateFulfilment, updateOrderFlow, type OrderFlowRow, type OrderFulfilment } from '../../store/orders/order-lifecycle-queries.ts';
import type { FlowStep, StepOutcome } from '../kit/flow-runner.ts';
import { advance, TARGETS, type FlowDeps } from '../flow-deps.ts';
import { ORDER_EVENT_TYPES, orderEvent } from '../order-events.ts';
import { loyaltyAwardJob } from '../loyalty/loyalty.flow.ts';
import { erpOfOrder, recordedRoute, routeOrder } from '../erp-routing/erp-router.ts';
import { shadowCancelJob, shadowJob } from '../erp-routing/erp-shadow.flow.ts';
import { planRoute, type LocationStock, type RouteGroup } from './routing.ts';

/**
 * The steps of the order-placed flow, in order:
 *   order.validate → fraud.screen → payment.authorize → inventory.allocate (route + reserve)
 *   → erp.post → payment.capture → wms.fulfil (→ released)
 * Each compensation receives only the ids its forward action returned. The flow runs in two
 * parts, each its own job (ADR 0019): the customer-facing part on the critical lane ends at
 * `allocated`; the back-office part runs on the normal lane under the ERP's quota.
 */

/** The customer-facing part: what the channel and the customer wait for (→ allocated). */
export const CUSTOMER_PART: ReadonlySet<string> = new Set(['order.validate', 'fraud.screen', 'payment.authorize', 'inventory.allocate']);

/** The back-office part: the ERP, the money and the warehouse (→ released). */
export const BACK_OFFICE_PART: ReadonlySet<string> = new Set(['erp.post', 'payment.capture', 'wms.fulfil']);

export interface PlacedState {
  order: Order;
  flow: OrderFlowRow;
  results: Record<string, Record<string, unknown>>;
  /**
   * The order's fulfilments as the part's opening read found them; the steps of the part are
   * the only writers until it ends (amendments are taken in between parts, ADR 0023).
   */
  fulfilments?: readonly OrderFulfilment[];
}

const US_LIKE = new Set(['US', 'CA', 'AU']);

/** What is wrong with an order before anything is spent on it (empty: nothing), given its SKUs' stock. */
export function validationProblems(order: Order, stock: ReadonlyMap<string, Availability>): string[] {
  const problems: string[] = [];
  const scale = minorUnits(order.currency);
  let subtotal = 0n;
  for (const line of order.lines) {
    const total = toScaled(line.unitPrice, scale) * BigInt(line.quantity);
    if (total !== toScaled(line.lineTotal, scale)) problems.push(`line ${line.lineNumber}: ${line.quantity} x ${line.unitPrice} is not ${line.lineTotal}`);
    subtotal += total;
  }
  const t = order.totals;
  if (subtotal !== toScaled(t.subtotal, scale)) problems.push(`subtotal ${t.subtotal} is not the sum of the lines (${fromScaled(subtotal, scale)})`);
  const grand = toScaled(t.subtotal, scale) + toScaled(t.shipping, scale) + toScaled(t.tax, scale) - toScaled(t.discount, scale);
  if (grand !== toScaled(t.grandTotal, scale)) problems.push(`grand total ${t.grandTotal} is not subtotal + shipping + tax - discount (${fromScaled(grand, scale)})`);
  if (order.payments.length > 0 && toScaled(t.paid, scale) !== grand) problems.push(`payments (${t.paid}) do not cover the grand total (${t.grandTotal})`);
  const a = order.shippingAddress;
  if (US_LIKE.has(a.country) && !a.region) problems.push(`the shipping address has no region (state or province), required for ${a.country}`);
  for (const [sku, availability] of stock) {
    if (availability.locations.length === 0) problems.push(`SKU ${sku} is not known to inventory`);
  }
  return problems;
}

function validateStep(deps: FlowDeps): FlowStep<PlacedState> {
  return {
    id: 'order.validate',
    system: 'syncline',
    async forward({ order, flow }, run): Promise<StepOutcome> {
      // The catalogue's verdict per SKU (unknown or inactive), with stable codes (docs/products.md),
      // and every SKU's stock: one read-only transaction.
      const skus = order.lines.map((l) => l.sku);
      const { catalogue, stock } = await deps.db.transaction(async (tx) => ({
        catalogue: deps.products ? await deps.products.holds(skus, tx) : [],
        stock: await deps.inventory.getAvailabilities({ skus, channel: order.channel }, tx),
      }));
      const problems = [...validationProblems(order, stock), ...catalogue.map((h) => h.message)];
      if (problems.length > 0 && !flow.hold_released_at) {
        const products = catalogue.map(({ code, sku }) => ({ code, sku }));
        const extra = products.length ? { products } : {};
        return {
          kind: 'stop',
          outcome: 'failed',
          detail: { problems, ...extra },
          apply: async (tx) => {
            if (await advance(tx, order.id, 'on_hold', ['received'])) {
              await updateOrderFlow(tx, order.id, { hold_reason: { kind: 'validation', problems, ...extra } });
              await appendEvents(tx, [orderEvent(ORDER_EVENT_TYPES.onHold, order.id, run.correlationId, { reason: 'validation', problems, ...extra })]);
            }
          },
        };
      }
      return {
        kind: 'done',
        detail: problems.length ? { problems, overriddenAt: flow.hold_released_at } : { lines: order.lines.length, grandTotal: order.totals.grandTotal },
        apply: (tx) => advance(tx, order.id, 'validated', ['received', 'on_hold']).then(() => {}),
      };
    },
  };
}

function fraudStep(deps: FlowDeps): FlowStep<PlacedState> {
  return {
    id: 'fraud.screen',
    system: 'fraud',
    async forward({ order, flow }, run): Promise<StepOutcome> {
      const screening = await deps.connectors.fraud.screen(
        {
          orderId: order.id,
          email: order.customer.email,
          amount: order.totals.grandTotal,
          currency: order.currency,
          shippingCountry: order.shippingAddress.country,
          ...(order.billingAddress ? { billingCountry: order.billingAddress.country } : {}),
          lineCount: order.lines.length,
        },
        run.via(TARGETS.fraud),
      );
      const result = { screeningId: screening.id, decision: screening.decision, score: screening.score };
      if (screening.decision === 'hold' && !flow.hold_released_at) {
        return {
          kind: 'stop',
          outcome: 'pending',
          detail: { ...result, reasons: screening.reasons },
          apply: async (tx) => {
            if (await advance(tx, order.id, 'on_hold', ['validated'])) {
              await updateOrderFlow(tx, order.id, { hold_reason: { kind: 'fraud', screeningId: screening.id, reasons: screening.reasons } });
              await appendEvents(tx, [orderEvent(ORDER_EVENT_TYPES.onHold, order.id, run.correlationId, { reason: 'fraud', reasons: screening.reasons })]);
            }
          },
        };
      }
      return { kind: 'done', result, detail: screening.decision === 'hold' ? { ...result, releasedAt: flow.hold_released_at } : result };
    },
  };
}

/** The payment method to authorise with: a gateway method id (pm_…) given by the channel, else a card on file. */
const paymentMethodOf = (order: Order) => order.payments.map((p) => p.method).find((m) => m.startsWith('pm_'));

function authorizeStep(deps: FlowDeps): FlowStep<PlacedState> {
  return {
    id: 'payment.authorize',
    system: 'payment',
    async forward({ order }, run): Promise<StepOutcome> {
      const method = paymentMethodOf(order);
      const outcome = await deps.connectors.payment.authorize(
        { orderId: order.id, amount: order.totals.grandTotal, currency: order.currency, ...(method ? { paymentMethod: method } : {}) },
        run.via(TARGETS.payment),
      );
      if (outcome.outcome === 'declined') {
        return {
          kind: 'stop',
          outcome: 'failed',
          detail: { declined: outcome.code, message: outcome.message },
          apply: async (tx) => {
            if (await advance(tx, order.id, 'payment_failed', ['validated', 'pending_allocation'])) {
              await appendEvents(tx, [orderEvent(ORDER_EVENT_TYPES.paymentFailed, order.id, run.correlationId, { at: 'authorize', code: outcome.code })]);
            }
          },
        };
      }
      const paymentId = outcome.payment.id;
      return { kind: 'done', result: { paymentId, amount: outcome.payment.amount }, apply: (tx) => updateOrderFlow(tx, order.id, { payment_id: paymentId }) };
    },
    async compensate(result, run) {
      const paymentId = String(result.paymentId);
      const payment = await deps.connectors.payment.getPayment(paymentId, run.via(TARGETS.payment));
      // A captured payment was refunded by the capture step's compensation; a failed or voided one holds nothing.
      if (payment?.state !== 'authorized') return { paymentId, voided: false, state: payment?.state ?? 'missing' };
      const voided = await deps.connectors.payment.void(paymentId, run.via(TARGETS.payment));
      return { paymentId, voided: voided.outcome === 'succeeded' };
    },
    // An authorisation cut off by a timeout or a crash may have reserved the money: find it by the order id it carries.
    async recover(run) {
      const payments = await deps.connectors.payment.findPayments(run.orderId, run.via(TARGETS.payment));
      const live = payments.find((p) => p.state === 'authorized');
      return live ? { paymentId: live.id, amount: live.amount } : undefined;
    },
  };
}

/** Per-SKU stock at each location the order's channel may sell from. */
async function stockFor(deps: FlowDeps, order: Order, within: Queryable): Promise<LocationStock[]> {
  const stock: LocationStock[] = [];
  // Read again, not taken from the validation: the route is planned on the stock of now.
  for (const [sku, availability] of await deps.inventory.getAvailabilities({ skus: order.lines.map((l) => l.sku), channel: order.channel }, within)) {
    for (const l of availability.locations) {
      if (l.included) stock.push({ locationId: l.locationId, code: l.location, kind: l.kind, sku, available: l.available });
    }
  }
  return stock;
}

function allocateStep(deps: FlowDeps): FlowStep<PlacedState> {
  const backorder = (order: Order, run: { correlationId: string }, lines: OrderBackorderedData['lines'], skus: string[]): StepOutcome => ({
    kind: 'stop',
    outcome: 'pending',
    detail: { backordered: lines },
    apply: async (tx) => {
      const changed = await advance(tx, order.id, 'pending_allocation', ['validated']);
      await updateOrderFlow(tx, order.id, { backorder_skus: skus, hold_reason: { kind: 'backorder', lines } });
      if (changed) await appendEvents(tx, [orderEvent(ORDER_EVENT_TYPES.backordered, order.id, run.correlationId, { lines })]);
    },
  });
  return {
    id: 'inventory.allocate',
    system: 'inventory',
    async forward({ order }, run): Promise<StepOutcome> {
      // A run that reserved before a crash left its holds: they are this order's allocation. Read
      // with the stock the route is planned on (one transaction; the stock goes unused after a crash).
      const read = await deps.db.transaction(async (tx) => ({
        held: (await deps.inventory.findReservations(order.id, tx)).filter((r) => r.status === 'active'),
        stock: await stockFor(deps, order, tx),
      }));
      const held = read.held;
      let groups: (RouteGroup & { reservationId: string })[] = [];
      if (held.length > 0) {
        const locations = new Map((await deps.inventory.listLocations()).map((l) => [l.code, l]));
        groups = held.map((r) => {
          const code = r.lines[0]!.location;
          const location = locations.get(code)!;
          return {
            reservationId: r.id,
            locationId: location.id,
            locationCode: code,
            locationKind: location.kind,
            // Reservation line numbers are positions in the request: find the order line by SKU.
            lines: r.lines.map((l) => {
              const line = order.lines.find((o) => o.sku === l.sku && o.quantity === l.quantity) ?? order.lines.find((o) => o.sku === l.sku)!;
              return { lineNumber: line.lineNumber, sku: l.sku, quantity: l.quantity };
            }),
          };
        });
      } else {
        const route = planRoute(order.lines, read.stock, deps.routing);
        if (route.kind === 'short') return backorder(order, run, route.lines, route.lines.map((l) => l.sku));
        for (const group of route.groups) {
          const outcome = await deps.inventory.reserve(
            { reference: order.id, channel: order.channel, lines: group.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, location: group.locationCode })) },
            { correlationId: run.correlationId },
          );
          if ('kind' in outcome && outcome.kind === 'done' && outcome.result.kind === 'reserved') {
            groups.push({ ...group, reservationId: outcome.result.reservation.id });
            continue;
          }
          // Stock moved between planning and reserving: give back what this run took and wait for stock.
          for (const g of groups) await deps.inventory.release(g.reservationId, { correlationId: run.correlationId });
          if ('kind' in outcome && outcome.kind === 'done' && outcome.result.kind === 'insufficient-stock') {
            const short = outcome.result.lines.filter((l) => l.short);
            return backorder(order, run, short, short.map((l) => l.sku));
          }
          throw new SynclineError('flow.reserve_failed', `reserving stock for ${order.id} at ${group.locationCode} failed (${'kind' in outcome ? outcome.kind : 'unknown'})`, { retry: 'transient' });
        }
      }
      const fulfilments = groups.map((g) => ({
        locationCode: g.locationCode,
        locationId: g.locationId,
        locationKind: g.locationKind,
        reservationId: g.reservationId,
        lines: g.lines,
      }));
      return {
        kind: 'done',
        result: { reservations: groups.map((g) => ({ id: g.reservationId, location: g.locationCode })) },
        detail: { route: fulfilments.map((f) => ({ location: f.locationCode, kind: f.locationKind, lines: f.lines })), split: fulfilments.length > 1 },
        apply: async (tx) => {
          await insertFulfilments(tx, order.id, fulfilments);
          await advance(tx, order.id, 'allocated', ['validated', 'pending_allocation']);
          await updateOrderFlow(tx, order.id, { backorder_skus: null, hold_reason: null });
        },
      };
    },
    async compensate(result, run) {
      const released: string[] = [];
      for (const r of result.reservations as { id: string; location: string }[]) {
        const outcome = await deps.inventory.release(r.id, { correlationId: run.correlationId, idempotency: undefined });
        if (outcome.kind === 'done' && outcome.result.kind === 'released') released.push(r.id);
      }
      return { released };
    },
  };
}

function erpPostStep(deps: FlowDeps): FlowStep<PlacedState> {
  return {
    id: 'erp.post',
    system: 'erp',
    async forward({ order, flow }, run): Promise<StepOutcome> {
      // Routed when it was handed to the back office (read with the part's opening read); an order
      // allocated before routing existed is routed here.
      const route = flow.erp_connection
        ? recordedRoute(deps.erps, { erp: flow.erp_connection, shadow: flow.erp_shadow })
        : await deps.db.transaction((tx) => routeOrder(deps.erps, tx, order, run.correlationId));
      const { sale, created } = await route.erp.client.postOrder(order, run.via(route.erp.target));
      const erpSale = { reference: sale.reference, erpId: sale.erpId, number: sale.number, state: sale.state, totalAmount: sale.totalAmount };
      return {
        kind: 'done',
        result: { reference: order.id, erpId: sale.erpId },
        detail: { ...erpSale, created, erp: route.erp.id },
        apply: async (tx) => {
          await updateOrderFlow(tx, order.id, { erp_sale: erpSale });
          // The shadow posting is a job of its own: it never fails nor delays the order.
          if (route.shadow) await enqueue(tx, shadowJob(order.id, route.shadow.target, run.correlationId));
        },
      };
    },
    async compensate(result, run) {
      const erp = await erpOfOrder(deps.erps, deps.db, run.orderId);
      const outcome = await erp.client.cancelOrder(String(result.reference), run.via(erp.target));
      // The shadow sale follows (its own job, after the shadow posting): no live sale is left in either ERP.
      const shadow = (await readErpRoute(deps.db, run.orderId))?.shadow;
      if (shadow && outcome.outcome !== 'already_shipped') await enqueue(deps.db, shadowCancelJob(run.orderId, deps.erps.endpoint(shadow).target, run.correlationId));
      return { outcome: outcome.outcome, ...(outcome.outcome !== 'not_found' ? { state: outcome.sale.state } : {}) };
    },
    // A posting cut off by a timeout or a crash may have created the sale: find it by its reference.
    async recover(run) {
      const erp = await erpOfOrder(deps.erps, deps.db, run.orderId);
      const sale = await erp.client.getSale(run.orderId, run.via(erp.target));
      return sale && sale.state !== 'cancelled' ? { reference: run.orderId, erpId: sale.erpId } : undefined;
    },
  };
}

function captureStep(deps: FlowDeps): FlowStep<PlacedState> {
  return {
    id: 'payment.capture',
    system: 'payment',
    async forward({ order, results }, run): Promise<StepOutcome> {
      const paymentId = String(results['payment.authorize']!.paymentId);
      const outcome = await deps.connectors.payment.capture(paymentId, {}, run.via(TARGETS.payment));
      if (outcome.outcome === 'declined') return { kind: 'stop', outcome: 'failed', detail: { paymentId, declined: outcome.code, message: outcome.message } };
      return { kind: 'done', result: { paymentId, orderId: order.id, amount: outcome.payment.capturedAmount } };
    },
    async compensate(result, run) {
      const refund = await deps.connectors.payment.refund(
        String(result.paymentId),
        { amount: String(result.amount), refundKey: `cancel-${String(result.orderId)}`, reason: 'requested_by_customer' },
        run.via(TARGETS.payment),
      );
      return { refundId: refund.id, amount: refund.amount };
    },
    // A capture cut off by a timeout or a crash may have taken the money: find the captured payment by the order id.
    async recover(run) {
      const captured = (await deps.connectors.payment.findPayments(run.orderId, run.via(TARGETS.payment))).find((p) => p.state === 'captured');
      return captured ? { paymentId: captured.id, orderId: run.orderId, amount: captured.capturedAmount } : undefined;
    },
  };
}

function fulfilStep(deps: FlowDeps): FlowStep<PlacedState> {
  return {
    id: 'wms.fulfil',
    system: 'wms',
    async forward({ order, fulfilments }, run): Promise<StepOutcome> {
      const created: { location: string; id: string }[] = [];
      for (const f of fulfilments ?? (await readFulfilments(deps.db, order.id))) {
        if (f.status === 'cancelled') continue;
        const { fulfilment } = await deps.connectors.wms.createFulfilment(
          {
            orderId: order.id,
            locationId: f.locationCode,
            shipTo: order.shippingAddress,
            customer: { name: order.customer.name, email: order.customer.email },
            lines: f.lines.map((l) => ({ lineNumber: l.lineNumber, sku: l.sku, quantity: l.quantity })),
          },
          run.via(TARGETS.wms),
        );
        created.push({ location: f.locationCode, id: fulfilment.id });
      }
      return {
        kind: 'done',
        result: { fulfilments: created },
        apply: async (tx) => {
          for (const c of created) await updateFulfilment(tx, order.id, c.location, { status: 'requested', externalId: c.id });
          if (await advance(tx, order.id, 'released', ['allocated'])) {
            await appendEvents(tx, [orderEvent(ORDER_EVENT_TYPES.released, order.id, run.correlationId, { fulfilments: created })]);
            // Loyalty is not critical: its own job, retries and dead letter; it never holds up the order.
            await enqueue(tx, loyaltyAwardJob(order.id, run.correlationId));
          }
        },
      };
    },
    // A cancel after release has asked the WMS already; before release this undoes requests whose answer was lost.
    async compensate(result, run) {
      const outcomes: { location: string; id: string; outcome: string }[] = [];
      for (const f of result.fulfilments as { location: string; id: string }[]) {
        const cancelled = await deps.connectors.wms.cancelFulfilment(f.id, run.via(TARGETS.wms));
        outcomes.push({ ...f, outcome: cancelled.outcome });
      }
      return { fulfilments: outcomes };
    },
    // A request cut off by a timeout or a crash may have created fulfilment orders: find them by the order id.
    async recover(run) {
      const found = (await deps.connectors.wms.findFulfilments(run.orderId, run.via(TARGETS.wms))).filter((f) => f.status !== 'cancelled');
      return found.length > 0 ? { fulfilments: found.map((f) => ({ location: f.locationId, id: f.id })) } : undefined;
    },
  };
}

/** The order-placed flow's steps, in order. */
export function orderPlacedSteps(deps: FlowDeps): FlowStep<PlacedState>[] {
  return [validateStep(deps), fraudStep(deps), authorizeStep(deps), allocateStep(deps), erpPostStep(deps), captureStep(deps), fulfilStep(deps)];
}

