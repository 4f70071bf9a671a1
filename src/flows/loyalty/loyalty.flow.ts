import { SynclineError } from '../../domain/errors.ts';
import type { HandlerContext } from '../../runtime/runtime.ts';
import { findOrderById } from '../../store/orders/order-queries.ts';
import { appendTimeline } from '../../store/orders/order-status.ts';
import { TARGETS, type FlowDeps } from '../flow-deps.ts';

/**
 * Loyalty points for a released order. Not critical: it runs as its own bulk job with its
 * own retries and dead letter, after the order was released; nothing waits for it.
 */
export async function awardLoyalty(deps: FlowDeps, payload: { orderId: string }, context: HandlerContext): Promise<void> {
  const order = await findOrderById(deps.db, payload.orderId);
  if (!order) throw new SynclineError('order.not_found', `no order ${payload.orderId}`);
  const started = performance.now();
  const entry = { system: 'loyalty', action: 'loyalty.award', attempt: context.attempt, correlationId: context.correlationId };
  try {
    const award = await deps.connectors.loyalty.awardPoints(
      { orderId: order.id, email: order.customer.email, amount: order.totals.grandTotal, currency: order.currency },
      { correlationId: context.correlationId, signal: context.signal, target: context.target(TARGETS.loyalty) },
    );
    await appendTimeline(deps.db, order.id, [
      { ...entry, outcome: 'succeeded', durationMs: Math.round(performance.now() - started), detail: { awardId: award.id, points: award.points, created: award.created } },
    ]);
  } catch (error) {
    const code = error instanceof SynclineError ? error.code : 'UNHANDLED_ERROR';
    if (!(error instanceof SynclineError && error.retry === 'throttled')) {
      await appendTimeline(deps.db, order.id, [
        { ...entry, outcome: 'failed', durationMs: Math.round(performance.now() - started), detail: { code, message: error instanceof Error ? error.message : String(error), blocking: false } },
      ]);
    }
    throw error;
  }
}
