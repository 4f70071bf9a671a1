import { SynclineError } from '../../domain/errors.ts';
import { BEFORE_RELEASE, TERMINAL_STATUSES } from '../../domain/orders/order-state.ts';
import type { CloudEvent } from '../../model/cloud-event.ts';
import type { DeadLetterNotice, HandlerContext } from '../../runtime/runtime.ts';
import type { Queryable } from '../../store/database.ts';
import { enqueue } from '../../runtime/queue.ts';
import { appendEvents } from '../../runtime/outbox/outbox.ts';
import { findOrderById } from '../../store/orders/order-queries.ts';
import { appendTimeline, readOrderStatus } from '../../store/orders/order-status.ts';
import { findBackorders, openCancellation, readOrderFlow, startOrderFlow } from '../../store/orders/order-lifecycle-queries.ts';
import { compensateFlow, runFlow, stepRun } from '../kit/flow-runner.ts';
import { advance, FLOW_JOBS, orderingKey, type FlowDeps } from '../flow-deps.ts';
import { ORDER_EVENT_TYPES, orderEvent } from '../order-events.ts';
import { orderPlacedSteps, type PlacedState } from './order-placed.steps.ts';
import { holdOnDeadLetter, resumeFromException } from '../kit/exception-hold.ts';

/**
 * The order-placed flow: from an accepted order to `released` (fulfilment requested),
 * or to on_hold, pending_allocation or payment_failed. Its business key is the order id.
 * It starts from the `order.created` outbox event (at-least-once: starting twice is a
 * no-op) and is resumed by an operator's hold release or by stock arriving.
 */

export const ORDER_PLACED_FLOW = 'order-placed';

export interface PlacePayload {
  orderId: string;
}

/** The job that runs (or resumes) the order-placed flow of one order. */
export const placeJob = (orderId: string, correlationId: string, jobKey = `place:${orderId}`) => ({
  type: FLOW_JOBS.place,
  payload: { orderId } satisfies PlacePayload,
  lane: 'critical' as const,
  orderingKey: orderingKey(orderId),
  jobKey,
  correlationId,
});

/** Outbox subscriber to order.created: starts the order's lifecycle once, however often the event comes. */
export async function startOnOrderCreated(deps: FlowDeps, event: CloudEvent): Promise<void> {
  const orderId = event.subject;
  if (!orderId) throw new SynclineError('flow.event_without_subject', `event ${event.id} has no order id as subject`);
  await deps.db.transaction(async (tx) => {
    const order = await findOrderById(tx, orderId);
    if (!order) throw new SynclineError('order.not_found', `order ${orderId} of event ${event.id} does not exist`, { retry: 'transient' });
    if (await startOrderFlow(tx, order)) await enqueue(tx, placeJob(orderId, event.correlationid));
  });
}

/** Outbox subscriber to stock changes: retries the orders waiting for the SKUs that changed. */
export async function retryBackorders(deps: FlowDeps, event: CloudEvent): Promise<void> {
  const data = (event.data ?? {}) as { sku?: string; entries?: { sku: string; quantity: number }[]; lines?: { sku: string }[] };
  const skus = new Set<string>();
  if (data.sku) skus.add(data.sku);
  for (const e of data.entries ?? []) if (e.quantity > 0) skus.add(e.sku);
  for (const l of data.lines ?? []) skus.add(l.sku);
  if (skus.size === 0) return;
  const waiting = await findBackorders(deps.db, [...skus]);
  // One job per event and order: a job key per order alone could be swallowed by a run that is about to wait again.
  if (waiting.length > 0) await enqueue(deps.db, waiting.map((w) => placeJob(w.order_id, event.correlationid, `place:${w.order_id}:${event.id}`)));
}

/** Runs the order-placed flow for one order, from wherever it stopped. */
export async function placeOrder(deps: FlowDeps, payload: PlacePayload, context: HandlerContext): Promise<void> {
  const { db } = deps;
  let status = await readOrderStatus(db, payload.orderId);
  if (!status) throw new SynclineError('order.not_found', `no order ${payload.orderId}`);
  if (status === 'on_hold') {
    // A replayed dead letter: the order leaves its exception hold and the flow goes on where it stopped.
    const resumed = await db.transaction((tx) =>
      resumeFromException(tx, payload.orderId, { system: 'syncline', action: 'order.exception.resumed', correlationId: context.correlationId, attempt: context.attempt, detail: { by: 'replay' } }),
    );
    if (resumed) status = resumed;
  }
  // Nothing to do once released or finished; on hold (validation, fraud) waits for an operator.
  if (TERMINAL_STATUSES.has(status) || !BEFORE_RELEASE.has(status) || status === 'on_hold') return;
  const order = await findOrderById(db, payload.orderId);
  let flow = await readOrderFlow(db, payload.orderId);
  if (!order) throw new SynclineError('order.not_found', `no order ${payload.orderId}`);
  if (!flow) {
    await db.transaction((tx) => startOrderFlow(tx, order));
    flow = (await readOrderFlow(db, payload.orderId))!;
  }
  const steps = orderPlacedSteps(deps);
  const identity = { flow: ORDER_PLACED_FLOW, key: order.id };
  const run = stepRun(order.id, context);
  const state: PlacedState = { order, flow, results: {} };
  const result = await runFlow(db, identity, steps, state, run, {
    interrupted: async () => ((await openCancellation(db, order.id)) ? 'a cancel was requested' : undefined),
  });
  const captureDeclined = result.kind === 'stopped' && result.step === 'payment.capture' && result.outcome === 'failed';
  // Steps already undone and no cancel: a payment failure whose compensation failed, now replayed; finish undoing it.
  const undoing = result.kind === 'stopped' && result.outcome === 'compensated' && !(await openCancellation(db, order.id));
  if (captureDeclined || undoing) {
    // The money cannot be taken: undo everything, like a cancel, and say why.
    const report = await compensateFlow(db, identity, steps, run);
    await db.transaction(async (tx) => {
      if (!(await advance(tx, order.id, 'payment_failed', ['allocated']))) return;
      await appendEvents(tx, [orderEvent(ORDER_EVENT_TYPES.paymentFailed, order.id, run.correlationId, { at: 'capture', compensated: report.map((r) => r.step) })]);
      await appendTimeline(tx, order.id, [
        { system: 'syncline', action: 'order.payment_failed', outcome: 'succeeded', attempt: run.attempt, durationMs: null, correlationId: run.correlationId, detail: { compensated: report } },
      ]);
    });
  }
}

/** Dead-letter hook of the order-placed job: the order enters the exception state instead of waiting silently. */
export async function placementDeadLettered(deps: FlowDeps, notice: DeadLetterNotice<PlacePayload>, tx: Queryable): Promise<void> {
  await holdOnDeadLetter(tx, notice.job.payload?.orderId, notice, { name: ORDER_PLACED_FLOW, steps: orderPlacedSteps(deps) });
}
