import { SynclineError } from '../../domain/errors.ts';
import { BEFORE_RELEASE, TERMINAL_STATUSES } from '../../domain/orders/order-state.ts';
import { fromScaled, minorUnits, toScaled } from '../../model/money.ts';
import type { OrderCancelledData } from '../../model/events.ts';
import type { OrderStatus } from '../../model/order.ts';
import type { HandlerContext } from '../../runtime/runtime.ts';
import { enqueue } from '../../runtime/queue.ts';
import { appendEvents } from '../../runtime/outbox/outbox.ts';
import { readSteps } from '../../store/flows/flow-steps.ts';
import {
  addLineQuantities,
  finishCancellation,
  readCancellation,
  readFulfilments,
  readLineStates,
  readOrderFlow,
  settledCancelledValue,
  updateFulfilment,
  updateOrderFlow,
} from '../../store/orders/order-lifecycle-queries.ts';
import { findOrderById } from '../../store/orders/order-queries.ts';
import { appendTimeline, lockOrderStatus, readOrderStatus } from '../../store/orders/order-status.ts';
import { compensateFlow, stepRun, type StepRun } from '../kit/flow-runner.ts';
import { advance, FLOW_JOBS, orderingKey, TARGETS, type FlowDeps } from '../flow-deps.ts';
import { ORDER_EVENT_TYPES, orderEvent } from '../order-events.ts';
import { ORDER_PLACED_FLOW } from '../order-placed/order-placed.flow.ts';
import { orderPlacedSteps } from '../order-placed/order-placed.steps.ts';
import { invoiceJob } from '../shipment/shipment.flow.ts';
import { loyaltyReversalJob } from '../loyalty/loyalty.flow.ts';
import { isExceptionHold } from '../../domain/orders/order-exception.ts';
import { discardDeadLetter } from '../../store/runtime/dead-letter-queries.ts';

/**
 * The cancel flow. Before release it undoes the order-placed flow in reverse (release
 * reservations, cancel the ERP order, refund a capture, void the authorisation). After
 * release it asks the WMS to cancel each open fulfilment and reports what it could not
 * stop; the order is cancelled when nothing had left a building. Its key is the
 * cancellation id; it runs in the order's ordering key, after any running flow of the order.
 */

export interface CancelPayload {
  orderId: string;
  cancellationId: string;
}

export const cancelJob = (payload: CancelPayload, correlationId: string) => ({
  type: FLOW_JOBS.cancel,
  payload,
  lane: 'critical' as const,
  orderingKey: orderingKey(payload.orderId),
  jobKey: `cancel:${payload.cancellationId}`,
  correlationId,
});

async function finishAsCancelled(
  deps: FlowDeps,
  run: StepRun,
  cancellationId: string,
  from: readonly OrderStatus[],
  report: Omit<OrderCancelledData, 'orderId' | 'cancellationId'>,
  also: { reverseLoyalty?: boolean; settleDeadLetter?: string | undefined } = {},
): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const changed = await advance(tx, run.orderId, 'cancelled', from);
    await updateOrderFlow(tx, run.orderId, { backorder_skus: null, hold_reason: null });
    await finishCancellation(tx, cancellationId, 'completed', report);
    // Points are awarded only after release; the reversal is its own job, like the award.
    if (changed && also.reverseLoyalty) await enqueue(tx, loyaltyReversalJob(run.orderId, run.correlationId));
    // The failed flow the order was held for is settled by the cancel: nothing is left to replay.
    if (also.settleDeadLetter) await discardDeadLetter(tx, also.settleDeadLetter, 'syncline:cancel', `order ${run.orderId} was cancelled (${cancellationId})`);
    if (changed) await appendEvents(tx, [orderEvent(ORDER_EVENT_TYPES.cancelled, run.orderId, run.correlationId, { cancellationId, ...report })]);
    await appendTimeline(tx, run.orderId, [
      { system: 'syncline', action: 'order.cancelled', outcome: 'succeeded', attempt: run.attempt, durationMs: null, correlationId: run.correlationId, detail: { cancellationId, ...report } },
    ]);
  });
}

/** Releases holds of the order that no recorded step knows of (a run that crashed between reserving and recording). */
async function releaseStrayHolds(deps: FlowDeps, run: StepRun): Promise<string[]> {
  const released: string[] = [];
  for (const r of await deps.inventory.findReservations(run.orderId)) {
    if (r.status !== 'active') continue;
    const outcome = await deps.inventory.release(r.id, { correlationId: run.correlationId });
    if (outcome.kind === 'done' && outcome.result.kind === 'released') released.push(r.id);
  }
  return released;
}

/** Cancels an order as far as it can still be cancelled. */
export async function cancelOrder(deps: FlowDeps, payload: CancelPayload, context: HandlerContext): Promise<void> {
  const { db } = deps;
  const cancellation = await readCancellation(db, payload.cancellationId);
  if (!cancellation) throw new SynclineError('cancel.not_found', `no cancellation ${payload.cancellationId}`);
  if (cancellation.status !== 'requested') return;
  const status = await readOrderStatus(db, payload.orderId);
  if (!status) throw new SynclineError('order.not_found', `no order ${payload.orderId}`);
  const run = stepRun(payload.orderId, context);

  if (status === 'cancelled') {
    await db.transaction((tx) => finishCancellation(tx, payload.cancellationId, 'completed', { alreadyCancelled: true }));
    return;
  }
  if (TERMINAL_STATUSES.has(status) || status === 'shipped') {
    await db.transaction((tx) => finishCancellation(tx, payload.cancellationId, 'refused', { status, remediation: 'The order has shipped or finished; create a return (POST /v1/returns).' }));
    return;
  }

  const placed = { flow: ORDER_PLACED_FLOW, key: payload.orderId };
  const steps = orderPlacedSteps(deps);
  if (BEFORE_RELEASE.has(status)) {
    const hold = (await readOrderFlow(db, payload.orderId))?.hold_reason;
    const exception = isExceptionHold(hold) ? hold : undefined;
    const compensated = await compensateFlow(db, placed, steps, run);
    const stray = await releaseStrayHolds(deps, run);
    await finishAsCancelled(
      deps,
      run,
      payload.cancellationId,
      [...BEFORE_RELEASE],
      { compensated, ...(stray.length ? { strayHoldsReleased: stray } : {}), ...(exception ? { exception: { step: exception.step, code: exception.code, deadLetterId: exception.deadLetterId } } : {}) },
      { settleDeadLetter: exception?.deadLetterId },
    );
    return;
  }

  // Released to warehouses or stores: ask each to stop what it has not shipped.
  const cancelled: { location: string; fulfilmentId: string }[] = [];
  const notStopped: { location: string; fulfilmentId: string | null; status: string; shipped: { lineNumber: number; sku: string; shipped: number }[] }[] = [];
  for (const f of await readFulfilments(db, payload.orderId)) {
    if (f.status === 'cancelled') {
      cancelled.push({ location: f.locationCode, fulfilmentId: f.externalId ?? '' });
      continue;
    }
    if (f.status === 'shipped' || !f.externalId) {
      notStopped.push({ location: f.locationCode, fulfilmentId: f.externalId, status: f.status, shipped: [] });
      continue;
    }
    const outcome = await deps.connectors.wms.cancelFulfilment(f.externalId!, run.via(TARGETS.wms));
    if (outcome.outcome === 'already_shipped') {
      notStopped.push({
        location: f.locationCode,
        fulfilmentId: f.externalId,
        status: outcome.fulfilment.status,
        shipped: outcome.fulfilment.lines.filter((l) => l.shippedQuantity > 0).map((l) => ({ lineNumber: l.lineNumber, sku: l.sku, shipped: l.shippedQuantity })),
      });
      continue;
    }
    await deps.inventory.release(f.reservationId, { correlationId: run.correlationId });
    await db.transaction(async (tx) => {
      const current = (await readFulfilments(tx, payload.orderId)).find((x) => x.locationCode === f.locationCode);
      if (current?.status === 'cancelled') return;
      await updateFulfilment(tx, payload.orderId, f.locationCode, { status: 'cancelled' });
      await addLineQuantities(tx, payload.orderId, 'cancelled', f.lines);
      await appendTimeline(tx, payload.orderId, [
        { system: 'wms', action: 'wms.fulfilment.cancel', outcome: 'succeeded', attempt: run.attempt, durationMs: null, correlationId: run.correlationId, detail: { location: f.locationCode, fulfilmentId: f.externalId } },
      ]);
    });
    cancelled.push({ location: f.locationCode, fulfilmentId: f.externalId });
  }

  const anyShipped = (await readLineStates(db, payload.orderId)).some((l) => l.shipped > 0) || notStopped.length > 0;
  if (!anyShipped) {
    // Nothing left a building: the whole order is undone, money and ERP included.
    const compensated = await compensateFlow(db, placed, steps, run);
    await finishAsCancelled(deps, run, payload.cancellationId, ['released'], { cancelledFulfilments: cancelled, compensated }, { reverseLoyalty: true });
    return;
  }

  // Part of the order is on its way: refund what will not ship, report what could not be stopped.
  const lines = await readLineStates(db, payload.orderId);
  const order = (await findOrderById(db, payload.orderId))!;
  const scale = minorUnits(order.currency);
  // This cancellation's part: every cancelled line's value less what earlier partial cancels settled
  // (counted the same way after a crash, so a repeated run refunds and reverses the same amount).
  const allCancelled = lines.reduce((n, l) => n + toScaled(l.unitPrice, scale) * BigInt(l.cancelled), 0n);
  const cancelledValue = allCancelled - toScaled(await settledCancelledValue(db, payload.orderId, payload.cancellationId), scale);
  const value = fromScaled(cancelledValue > 0n ? cancelledValue : 0n, scale);
  let refund: Record<string, unknown> | null = null;
  const capture = (await readSteps(db, ORDER_PLACED_FLOW, payload.orderId)).find((s) => s.step === 'payment.capture' && s.status === 'done');
  if (capture && cancelledValue > 0n) {
    const r = await deps.connectors.payment.refund(String(capture.result.paymentId), { amount: value, refundKey: `cancel-${payload.cancellationId}` }, run.via(TARGETS.payment));
    refund = { refundId: r.id, amount: r.amount };
  }
  const report = { cancelledFulfilments: cancelled, notStopped, refund, cancelledValue: value };
  await db.transaction(async (tx) => {
    await lockOrderStatus(tx, payload.orderId);
    const states = await readLineStates(tx, payload.orderId);
    const everything = states.every((l) => l.shipped + l.cancelled >= l.quantity);
    if (everything && states.some((l) => l.shipped > 0)) {
      await advance(tx, payload.orderId, 'shipped', ['released', 'partially_shipped']);
      await enqueue(tx, invoiceJob(payload.orderId, run.correlationId));
    }
    await finishCancellation(tx, payload.cancellationId, 'partial', report);
    // The points the cancelled part earned are taken back (its own job, like the award).
    if (cancelledValue > 0n) await enqueue(tx, loyaltyReversalJob(payload.orderId, run.correlationId, { amount: value, reference: payload.cancellationId }));
    await appendTimeline(tx, payload.orderId, [
      { system: 'syncline', action: 'order.cancel.partial', outcome: 'succeeded', attempt: run.attempt, durationMs: null, correlationId: run.correlationId, detail: report },
    ]);
  });
}
