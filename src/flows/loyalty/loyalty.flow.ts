import { SynclineError } from '../../domain/errors.ts';
import { CustomerService } from '../../domain/customers/customer.service.ts';
import type { CustomerRecordData } from '../../model/customer.ts';
import type { Order } from '../../model/order.ts';
import type { HandlerContext } from '../../runtime/runtime.ts';
import { findOrderById } from '../../store/orders/order-queries.ts';
import { appendTimeline, readOrderStatus, type NewTimelineEntry } from '../../store/orders/order-status.ts';
import { FLOW_JOBS, TARGETS, type FlowDeps } from '../flow-deps.ts';

/**
 * Loyalty points for a released order, and their reversal when the order is cancelled.
 * Not critical: each runs as its own bulk job with its own retries and dead letter;
 * nothing waits for them. An order's award and reversal share an ordering key, so a
 * reversal never overtakes the award it takes back.
 */

/** A reversal's job payload: the whole award, or (`part`) the points of a cancelled part of the order. */
export interface ReversalPayload {
  orderId: string;
  /** The cancelled part's value (in the order's currency) and the cancellation that settles it. */
  part?: { amount: string; reference: string };
}

const loyaltyJob = (type: string, jobKey: string, payload: ReversalPayload, correlationId: string) => ({
  type,
  payload,
  lane: 'bulk' as const,
  orderingKey: `loyalty:${payload.orderId}`,
  jobKey,
  target: TARGETS.loyalty,
  correlationId,
});

/** The job that awards an order's points (enqueued when the order is released). */
export const loyaltyAwardJob = (orderId: string, correlationId: string) => loyaltyJob(FLOW_JOBS.loyalty, `loyalty:${orderId}`, { orderId }, correlationId);

/** The job that takes an order's points back: all of them (a released order cancelled) or those of a cancelled part. */
export const loyaltyReversalJob = (orderId: string, correlationId: string, part?: ReversalPayload['part']) =>
  loyaltyJob(FLOW_JOBS.loyaltyReversal, part ? `loyalty-reversal:${orderId}:${part.reference}` : `loyalty-reversal:${orderId}`, { orderId, ...(part ? { part } : {}) }, correlationId);

/** Runs one loyalty call and writes its outcome on the order's timeline (`blocking: false` on failure). */
async function onTimeline(deps: FlowDeps, orderId: string, action: string, context: HandlerContext, call: () => Promise<Omit<NewTimelineEntry, 'system' | 'action' | 'attempt' | 'correlationId' | 'durationMs'>>): Promise<void> {
  const started = performance.now();
  const entry = { system: 'loyalty', action, attempt: context.attempt, correlationId: context.correlationId };
  try {
    const outcome = await call();
    await appendTimeline(deps.db, orderId, [{ ...entry, ...outcome, durationMs: Math.round(performance.now() - started) }]);
  } catch (error) {
    const code = error instanceof SynclineError ? error.code : 'UNHANDLED_ERROR';
    if (!(error instanceof SynclineError && error.retry === 'throttled')) {
      await appendTimeline(deps.db, orderId, [
        { ...entry, outcome: 'failed', durationMs: Math.round(performance.now() - started), detail: { code, message: error instanceof Error ? error.message : String(error), blocking: false } },
      ]);
    }
    throw error;
  }
}

/**
 * The loyalty member an order's points go to: the member of the customer the order resolved to
 * (its loyalty record, else a loyalty id one of its records carries), undefined when the customer
 * has none (the points are kept under the order's e-mail). An order the resolution subscriber
 * has not reached yet is resolved here (the same, idempotent resolution).
 */
export async function loyaltyMemberOfOrder(customers: CustomerService, order: Order, correlationId: string): Promise<string | undefined> {
  const link = (await customers.customerOfOrder(order.id)) ?? (await customers.resolveOrder(order, { correlationId }), await customers.customerOfOrder(order.id));
  if (!link) return undefined;
  const customer = await customers.get(link.customerId);
  const records = customer?.sourceRecords ?? [];
  const own = records.filter((r) => r.system === 'loyalty').sort((a, b) => a.observedAt.localeCompare(b.observedAt) || a.id.localeCompare(b.id)).at(-1);
  if (own) return own.externalId;
  return records.map((r) => (r.data as CustomerRecordData).references?.loyaltyId).find((id): id is string => !!id);
}

/** Awards the points of a released order (to the member of its resolved customer, if any); an order cancelled before the award gets none. */
export async function awardLoyalty(deps: FlowDeps, payload: { orderId: string }, context: HandlerContext): Promise<void> {
  const order = await findOrderById(deps.db, payload.orderId);
  if (!order) throw new SynclineError('order.not_found', `no order ${payload.orderId}`);
  await onTimeline(deps, order.id, 'loyalty.award', context, async () => {
    // A dead-lettered award replayed after a cancel must not award what the cancel took back.
    if ((await readOrderStatus(deps.db, order.id)) === 'cancelled') return { outcome: 'skipped', detail: { reason: 'the order was cancelled' } };
    const memberId = await loyaltyMemberOfOrder(new CustomerService(deps.db), order, context.correlationId);
    const award = await deps.connectors.loyalty.awardPoints(
      { orderId: order.id, email: order.customer.email, amount: order.totals.grandTotal, currency: order.currency, ...(memberId ? { memberId } : {}) },
      { correlationId: context.correlationId, signal: context.signal, target: context.target(TARGETS.loyalty) },
    );
    return { outcome: 'succeeded', detail: { awardId: award.id, points: award.points, created: award.created, memberId: memberId ?? null } };
  });
}

/** Takes back the points awarded for a cancelled order, or for its cancelled part (nothing when none were awarded). */
export async function reverseLoyalty(deps: FlowDeps, payload: ReversalPayload, context: HandlerContext): Promise<void> {
  if (!(await readOrderStatus(deps.db, payload.orderId))) throw new SynclineError('order.not_found', `no order ${payload.orderId}`);
  await onTimeline(deps, payload.orderId, 'loyalty.reverse', context, async () => {
    const { part } = payload;
    const reversal = await deps.connectors.loyalty.reversePoints(
      part ? { orderId: payload.orderId, reason: 'order partly cancelled', amount: part.amount, reference: part.reference } : { orderId: payload.orderId, reason: 'order cancelled' },
      { correlationId: context.correlationId, signal: context.signal, target: context.target(TARGETS.loyalty) },
    );
    if (!reversal) return { outcome: 'skipped', detail: { reason: 'no points were awarded for the order' } };
    return {
      outcome: 'succeeded',
      detail: { reversalId: reversal.id, awardId: reversal.awardId, points: reversal.points, created: reversal.created, ...(part ? { cancelledValue: part.amount, cancellationId: part.reference } : {}) },
    };
  });
}
