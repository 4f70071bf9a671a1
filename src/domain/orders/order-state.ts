import { SynclineError } from '../errors.ts';
import type { OrderStatus } from '../../model/order.ts';

/**
 * The order status state machine: every legal transition, in one table. Flows and
 * the API change an order's status only through `assertTransition` (and the store's
 * compare-and-set in src/store/orders/order-status.ts), so an illegal change is a
 * coded error, never a silent overwrite.
 *
 *   received ─► validated ─► allocated ─► released ─► partially_shipped ─► shipped ─► completed
 *      │            │  ▲          │           │               │
 *      │            │  └ on_hold ◄┘(validation/fraud hold; operator releases or cancels)
 *      │            └─► pending_allocation (backorder) ─► allocated
 *      └──────────── any open state ─► cancelled;  validated/allocated ─► payment_failed
 *
 *   exception: a flow that failed for good stops the order where it was
 *   (received, validated, pending_allocation, allocated ─► on_hold, kind exception);
 *   a replay returns it to that status (on_hold ─► the same status) and the flow goes on.
 */
export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  received: ['validated', 'on_hold', 'cancelled'],
  validated: ['on_hold', 'pending_allocation', 'allocated', 'payment_failed', 'cancelled'],
  // validated: a hold released (or an exception resumed there); the others: an exception resumed.
  on_hold: ['validated', 'received', 'pending_allocation', 'allocated', 'cancelled'],
  pending_allocation: ['allocated', 'on_hold', 'cancelled', 'payment_failed'],
  allocated: ['released', 'on_hold', 'payment_failed', 'cancelled'],
  released: ['partially_shipped', 'shipped', 'cancelled'],
  // A partially shipped order completes when the rest was cancelled and the shipped part invoiced.
  partially_shipped: ['shipped', 'completed'],
  shipped: ['completed'],
  completed: [],
  cancelled: [],
  payment_failed: [],
};

/** Statuses from which nothing more happens to the order. */
export const TERMINAL_STATUSES: ReadonlySet<OrderStatus> = new Set(['completed', 'cancelled', 'payment_failed']);

/** Statuses before the order was released to a warehouse or store: a cancel compensates in reverse. */
export const BEFORE_RELEASE: ReadonlySet<OrderStatus> = new Set(['received', 'validated', 'on_hold', 'pending_allocation', 'allocated']);

/** True when the table allows from → to. */
export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from].includes(to);
}

/** Throws `order.illegal_transition` (permanent) unless from → to is in the table. */
export function assertTransition(orderId: string, from: OrderStatus, to: OrderStatus): void {
  if (!canTransition(from, to)) {
    throw new SynclineError('order.illegal_transition', `order ${orderId} cannot go from ${from} to ${to}`, {
      retry: 'permanent',
      details: { orderId, from, to, allowed: ORDER_TRANSITIONS[from] },
    });
  }
}
