import { SynclineError } from '../../domain/errors.ts';
import { BEFORE_RELEASE, TERMINAL_STATUSES } from '../../domain/orders/order-state.ts';
import type { CloudEvent } from '../../model/cloud-event.ts';
import type { DeadLetterNotice, HandlerContext } from '../../runtime/runtime.ts';
import type { Queryable } from '../../store/database.ts';
import type { Order } from '../../model/order.ts';
import { readSteps, type StepRecord } from '../../store/flows/flow-steps.ts';
import { enqueue } from '../../runtime/queue.ts';
import { appendEvents } from '../../runtime/outbox/outbox.ts';
import { findOrderById } from '../../store/orders/order-queries.ts';
import { appendTimeline } from '../../store/orders/order-status.ts';
import { findBackorders, openCancellation, readOrderFlow, readOrderFlowForRun, startOrderFlow, type OrderFlowRow, type OrderFulfilment } from '../../store/orders/order-lifecycle-queries.ts';
import { compensateFlow, HANDED_OFF, runFlow, stepRun, type FlowResult, type StepRun } from '../kit/flow-runner.ts';
import { advance, FLOW_JOBS, orderingKey, TARGETS, type FlowDeps } from '../flow-deps.ts';
import { ORDER_EVENT_TYPES, orderEvent } from '../order-events.ts';
import { BACK_OFFICE_PART, CUSTOMER_PART, orderPlacedSteps, type PlacedState } from './order-placed.steps.ts';
import { holdOnDeadLetter, resumeFromException } from '../kit/exception-hold.ts';
import { OrderAmendmentService, type AmendmentPorts } from '../../domain/orders/order-amendment.service.ts';
import { routeOrder, type ErpRouter } from '../erp-routing/erp-router.ts';

/**
 * The order-placed flow: from an accepted order to `allocated` (reserved and routed) on the
 * critical lane, then, as a job of its own on the normal lane, to `released` (posted to the ERP,
 * captured, fulfilment requested); or to on_hold, pending_allocation or payment_failed. Its
 * business key is the order id; both parts record their steps under it (ADR 0019).
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

/**
 * The job that runs the back-office part of an allocated order: normal lane, in the order's
 * ordering key (after its customer-facing part, before a later cancel), with the ERP as its
 * target so that it waits in the queue while the ERP's breaker is open.
 */
export const releaseJob = (orderId: string, correlationId: string, target: string = TARGETS.erp) => ({
  type: FLOW_JOBS.release,
  payload: { orderId } satisfies PlacePayload,
  lane: 'normal' as const,
  orderingKey: orderingKey(orderId),
  target,
  jobKey: `release:${orderId}`,
  correlationId,
});

/** How the amendment service (docs/adr/0023) reaches this flow: its steps and its jobs. */
export const amendmentPorts = (erps: ErpRouter): AmendmentPorts => ({
  async backOfficeStarted(db, orderId) {
    return (await readSteps(db, ORDER_PLACED_FLOW, orderId)).some((r) => BACK_OFFICE_PART.has(r.step));
  },
  async resume(tx, orderId, status, key, correlationId) {
    // Allocated: the back-office part is next, on the target of the order's ERP (ADR 0029);
    // anywhere earlier the customer-facing part goes on.
    if (status === 'allocated') {
      const order = await findOrderById(tx, orderId);
      if (!order) throw new SynclineError('order.not_found', `no order ${orderId}`);
      const route = await routeOrder(erps, tx, order, correlationId);
      await enqueue(tx, { ...releaseJob(orderId, correlationId, route.erp.target), jobKey: `release:${orderId}:${key}` });
    } else await enqueue(tx, placeJob(orderId, correlationId, `place:${orderId}:${key}`));
  },
});

/** Takes in the channel versions of the order received since its last job, before a part of the flow reads it. */
const takeInVersions = (deps: FlowDeps, orderId: string, context: HandlerContext) => new OrderAmendmentService(deps.db, deps.inventory, amendmentPorts(deps.erps)).takeIn(orderId, context.correlationId);

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
/**
 * The SKUs an inventory event makes units available for: stock that came in (receipts, returns,
 * the receiving side of a transfer, a count up) and reservations released or lapsed. Stock that
 * went out (a sale in a store, a shipment consuming its reservation) frees nothing.
 */
export function skusFreedBy(event: CloudEvent): string[] {
  const data = (event.data ?? {}) as { entries?: { sku: string; quantity: number }[]; lines?: { sku: string }[] };
  const skus = new Set<string>();
  for (const e of data.entries ?? []) if (e.quantity > 0) skus.add(e.sku);
  for (const l of data.lines ?? []) skus.add(l.sku);
  return [...skus];
}

/** Backordered orders wanting a freed SKU try again (the relay makes a job only for events that free some: `skusFreedBy`). */
export async function retryBackorders(deps: FlowDeps, event: CloudEvent): Promise<void> {
  const skus = skusFreedBy(event);
  if (skus.length === 0) return;
  const waiting = await findBackorders(deps.db, skus);
  // One job per event and order: a job key per order alone could be swallowed by a run that is about to wait again.
  if (waiting.length > 0) await enqueue(deps.db, waiting.map((w) => placeJob(w.order_id, event.correlationid, `place:${w.order_id}:${event.id}`)));
}

/** What a part of the flow starts from (read at its start, in one statement but for the order). */
interface Loaded {
  order: Order;
  flow: OrderFlowRow | undefined;
  steps: StepRecord[];
  cancellationOpen: boolean;
  fulfilments: OrderFulfilment[];
}

/**
 * What a part of the flow starts from: the order, once the channel versions received since its
 * last job are taken in and a replayed dead letter's exception hold is taken away, its flow row,
 * its step records and whether a cancel is open.
 */
async function loadForRun(deps: FlowDeps, orderId: string, context: HandlerContext): Promise<Loaded> {
  const { db } = deps;
  // One read: the order, the flow row, the step records, an open cancel, and whether versions wait (most runs: none).
  let read = await readOrderFlowForRun(db, orderId, ORDER_PLACED_FLOW);
  if (read.amendmentPending) {
    await takeInVersions(deps, orderId, context);
    read = await readOrderFlowForRun(db, orderId, ORDER_PLACED_FLOW);
  }
  if (!read.order) throw new SynclineError('order.not_found', `no order ${orderId}`);
  if (read.order.status === 'on_hold') {
    // A replayed dead letter: the order leaves its exception hold and the flow goes on where it stopped.
    const resumed = await db.transaction((tx) =>
      resumeFromException(tx, orderId, { system: 'syncline', action: 'order.exception.resumed', correlationId: context.correlationId, attempt: context.attempt, detail: { by: 'replay' } }),
    );
    if (resumed) read = await readOrderFlowForRun(db, orderId, ORDER_PLACED_FLOW);
  }
  return { order: read.order!, flow: read.flow, steps: read.steps, cancellationOpen: read.cancellationOpen, fulfilments: read.fulfilments };
}

/** Runs one part of the order-placed flow, then settles a capture that was declined. */
async function runPart(
  deps: FlowDeps,
  loaded: Loaded,
  context: HandlerContext,
  part: ReadonlySet<string>,
  options: { opening?: (run: StepRun, records: readonly StepRecord[]) => ((tx: Queryable) => Promise<void>) | undefined; handOff?: (tx: Queryable) => Promise<void> } = {},
): Promise<FlowResult> {
  const { db } = deps;
  const { order } = loaded;
  let flow = loaded.flow;
  if (!flow) {
    await db.transaction((tx) => startOrderFlow(tx, order));
    flow = (await readOrderFlow(db, order.id))!;
  }
  const steps = orderPlacedSteps(deps);
  const identity = { flow: ORDER_PLACED_FLOW, key: order.id };
  const run = stepRun(order.id, context);
  const records = loaded.steps;
  const opening = options.opening?.(run, records);
  // The fulfilments are written by the allocation: only a part that starts after it may take them from the opening read.
  const state: PlacedState = { order, flow, results: {}, ...(part === BACK_OFFICE_PART ? { fulfilments: loaded.fulfilments } : {}) };
  const result = await runFlow(db, identity, steps, state, run, {
    interrupted: async (q) => ((await openCancellation(q, order.id)) ? 'a cancel was requested' : undefined),
    records,
    // Asked in the read the part started with: a cancel open then stops the flow before its next step.
    asked: { reason: loaded.cancellationOpen ? 'a cancel was requested' : undefined },
    part,
    ...(options.handOff ? { handOff: options.handOff } : {}),
    ...(opening ? { opening } : {}),
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
  return result;
}

/** Chooses the order's ERP once (ADR 0029) and enqueues its back-office part on that ERP's target. */
async function handToBackOffice(deps: FlowDeps, tx: Queryable, order: Order, correlationId: string): Promise<void> {
  const route = await routeOrder(deps.erps, tx, order, correlationId);
  await enqueue(tx, releaseJob(order.id, correlationId, route.erp.target));
}

/**
 * Runs the customer-facing part of the order-placed flow (validate, fraud screen, authorise,
 * route and reserve) from wherever it stopped; once the order is allocated the back-office
 * part is enqueued as its own job.
 */
export async function placeOrder(deps: FlowDeps, payload: PlacePayload, context: HandlerContext): Promise<void> {
  const loaded = await loadForRun(deps, payload.orderId, context);
  const status = loaded.order.status;
  // Nothing to do once released or finished; on hold (validation, fraud) waits for an operator.
  if (TERMINAL_STATUSES.has(status) || !BEFORE_RELEASE.has(status) || status === 'on_hold') return;
  // Allocated by this run: the back-office part is enqueued in the allocation step's transaction.
  let handedOff = false;
  const result = await runPart(deps, loaded, context, CUSTOMER_PART, {
    handOff: async (tx) => {
      await handToBackOffice(deps, tx, loaded.order, context.correlationId);
      handedOff = true;
    },
  });
  // Allocated by an earlier run: the back-office part goes on as its own job (queued once: its
  // job key), whatever path led here (stock arriving, a hold released, a replay, a crash after the allocation).
  if (result.kind === 'stopped' && result.outcome === HANDED_OFF && !handedOff) {
    await deps.db.transaction(async (tx) => {
      const order = await findOrderById(tx, payload.orderId);
      if (!order) throw new SynclineError('order.not_found', `no order ${payload.orderId}`);
      await handToBackOffice(deps, tx, order, context.correlationId);
    });
  }
}

/**
 * Runs the back-office part of the order-placed flow (ERP posting, capture, fulfilment
 * request → released) for an allocated order. The first run writes on the timeline how long
 * the order waited for it since it was allocated.
 */
export async function releaseOrder(deps: FlowDeps, payload: PlacePayload, context: HandlerContext): Promise<void> {
  // A version received while this part waited (for the ERP's quota, its breaker) goes in first: the ERP and the warehouse get the amended order, or none if it is held.
  const loaded = await loadForRun(deps, payload.orderId, context);
  // Released already, cancelled, or on a hold an operator must lift: nothing for the back office.
  if (loaded.order.status !== 'allocated') return;
  await runPart(deps, loaded, context, BACK_OFFICE_PART, {
    // Written with the ERP posting's started mark: one commit.
    opening: (run, records) => {
      const allocated = records.find((r) => r.step === 'inventory.allocate' && r.status === 'done');
      if (!allocated || records.some((r) => BACK_OFFICE_PART.has(r.step))) return undefined;
      const waitedMs = Math.max(0, Date.now() - new Date(allocated.doneAt).getTime());
      return (tx) => appendTimeline(tx, payload.orderId, [
        { system: 'syncline', action: 'order.back-office', outcome: 'succeeded', attempt: run.attempt, durationMs: null, correlationId: run.correlationId, detail: { waitedMs, lane: 'normal' } },
      ]);
    },
  });
}

/** Dead-letter hook of both parts' jobs: the order enters the exception state instead of waiting silently. */
export async function placementDeadLettered(deps: FlowDeps, notice: DeadLetterNotice<PlacePayload>, tx: Queryable): Promise<void> {
  await holdOnDeadLetter(tx, notice.job.payload?.orderId, notice, { name: ORDER_PLACED_FLOW, steps: orderPlacedSteps(deps) });
}
