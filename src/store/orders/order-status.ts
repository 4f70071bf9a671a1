import type { Queryable } from '../database.ts';
import { SynclineError } from '../../domain/errors.ts';
import { assertTransition } from '../../domain/orders/order-state.ts';
import type { OrderStatus, TimelineEntry } from '../../model/order.ts';

/**
 * Changing an order's status and writing its timeline. A status change locks the
 * order row, checks the transition against the state machine (order-state.ts) and
 * writes, all in the caller's transaction, so two flows can never both move an
 * order from the same status.
 */

/** The order's status, locked for the rest of the caller's transaction. */
export async function lockOrderStatus(tx: Queryable, orderId: string): Promise<OrderStatus> {
  const result = await tx.query<{ status: OrderStatus }>('SELECT status FROM sales_order WHERE id = $1 FOR UPDATE', [orderId]);
  const row = result.rows[0];
  if (!row) throw new SynclineError('order.not_found', `no order ${orderId}`, { retry: 'permanent', details: { orderId } });
  return row.status;
}

/** The order's status without locking, or undefined when there is no such order. */
export async function readOrderStatus(db: Queryable, orderId: string): Promise<OrderStatus | undefined> {
  const result = await db.query<{ status: OrderStatus }>('SELECT status FROM sales_order WHERE id = $1', [orderId]);
  return result.rows[0]?.status;
}

/**
 * Moves the order to `to`. When `from` is given the order must be in one of those
 * statuses (else `order.unexpected_status`); the move itself must be legal (else
 * `order.illegal_transition`). Returns the status it left.
 */
export async function transitionOrder(tx: Queryable, orderId: string, to: OrderStatus, from?: readonly OrderStatus[]): Promise<OrderStatus> {
  const current = await lockOrderStatus(tx, orderId);
  if (from && !from.includes(current)) {
    throw new SynclineError('order.unexpected_status', `order ${orderId} is ${current}, expected ${from.join(' or ')}`, {
      retry: 'permanent',
      details: { orderId, status: current, expected: from, to },
    });
  }
  assertTransition(orderId, current, to);
  await tx.query('UPDATE sales_order SET status = $2, updated_at = now() WHERE id = $1', [orderId, to]);
  return current;
}

export type NewTimelineEntry = Omit<TimelineEntry, 'at'> & { at?: string };

/** Appends entries to orders' timelines. */
export async function appendTimeline(tx: Queryable, orderId: string, entries: readonly NewTimelineEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await tx.query(
    `INSERT INTO order_timeline (order_id, at, system, action, outcome, attempt, duration_ms, correlation_id, detail)
     SELECT $1, COALESCE(e.at, clock_timestamp()), e.system, e.action, e.outcome, e.attempt, e.duration_ms, e.correlation_id, e.detail
       FROM jsonb_to_recordset($2::jsonb) AS e(at timestamptz, system text, action text, outcome text, attempt integer,
                                               duration_ms integer, correlation_id text, detail jsonb)`,
    [
      orderId,
      JSON.stringify(
        entries.map((e) => ({
          at: e.at ?? null,
          system: e.system,
          action: e.action,
          outcome: e.outcome,
          attempt: e.attempt,
          duration_ms: e.durationMs,
          correlation_id: e.correlationId,
          detail: e.detail,
        })),
      ),
    ],
  );
}
