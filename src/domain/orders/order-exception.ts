import { SynclineError, type RetryClass } from '../errors.ts';
import type { OrderException, OrderStatus } from '../../model/order.ts';
import { canTransition } from './order-state.ts';

/**
 * The exception state: when a flow step fails for good (the ERP rejects the order, a
 * system stays down past every retry), the order is put on hold with kind `exception`
 * instead of waiting silently where it stopped. The hold names the system, the step,
 * the error and the dead letter; replaying that dead letter returns the order to the
 * status it was in and the flow goes on; a cancel undoes what was done.
 */

/** Statuses a failing order flow can stop an order in (the order-placed flow's, before release). */
export const EXCEPTION_STATUSES: ReadonlySet<OrderStatus> = new Set(['received', 'validated', 'pending_allocation', 'allocated']);

/**
 * Statuses a flow after release (shipment, invoice) can fail in. The order is not stopped:
 * its status is kept (a shipped order stays shipped) and the exception is attached to it.
 */
export const KEPT_STATUS_EXCEPTIONS: ReadonlySet<OrderStatus> = new Set(['released', 'partially_shipped', 'shipped']);

/** What the runtime and the flow know about the failure. */
export interface FlowFailure {
  flow: string;
  /** The flow's business key when it is not the order id (a shipment id, a return id). */
  key?: string;
  /** The step that failed, null when the flow failed outside any step. */
  step: string | null;
  system: string;
  code: string;
  retry: RetryClass;
  message: string;
  deadLetterId: string;
}

const EMAIL = /[^\s@<>"'(),;:]+@[^\s@<>"'(),;:]+\.[a-z]{2,}/gi;
const MAX_MESSAGE = 500;

/** An error message fit to show on an order and in an event: no e-mail addresses, bounded length. */
export function safeFailureMessage(message: string): string {
  const clean = message.replace(EMAIL, '[email]');
  return clean.length > MAX_MESSAGE ? `${clean.slice(0, MAX_MESSAGE - 1)}…` : clean;
}

/** A failure as shown to people (on an order, a return, in an event): a safe message and since when. */
export type FlowException = FlowFailure & { since: string };

/** The failure fit to show: its message without personal data, with the time it was seen. */
export function flowException(failure: FlowFailure, now = new Date()): FlowException {
  return { ...failure, message: safeFailureMessage(failure.message), since: now.toISOString() };
}

/**
 * The exception hold for an order in `status` whose flow failed, or undefined when the
 * order is not in a status a failing flow stops (cancelled meanwhile, already released).
 */
export function exceptionHold(status: OrderStatus, failure: FlowFailure, now = new Date()): OrderException | undefined {
  if (!EXCEPTION_STATUSES.has(status) || !canTransition(status, 'on_hold')) return undefined;
  const { since, ...shown } = flowException(failure, now);
  return { kind: 'exception', ...shown, resumeStatus: status, since };
}

/**
 * The exception attached to an order whose flow after release failed: the status is
 * kept (`statusKept`), the hold only reports. Undefined when the order is in no such
 * status (not released yet, cancelled, completed).
 */
export function keptStatusException(status: OrderStatus, failure: FlowFailure, now = new Date()): OrderException | undefined {
  if (!KEPT_STATUS_EXCEPTIONS.has(status)) return undefined;
  const { since, ...shown } = flowException(failure, now);
  return { kind: 'exception', ...shown, resumeStatus: status, statusKept: true, since };
}

/** True when an exception hold was set by the flow run `flow` with business key `key`. */
export function isHoldOf(hold: OrderException, orderId: string, flow: string, key: string): boolean {
  return hold.flow === flow && (hold.key ?? orderId) === key;
}

/** True when a stored hold is an exception hold. */
export function isExceptionHold(hold: unknown): hold is OrderException {
  return typeof hold === 'object' && hold !== null && (hold as { kind?: unknown }).kind === 'exception';
}

/** The status an order on an exception hold returns to when its flow resumes. */
export function resumeStatus(orderId: string, hold: OrderException): OrderStatus {
  if (!EXCEPTION_STATUSES.has(hold.resumeStatus) || !canTransition('on_hold', hold.resumeStatus)) {
    throw new SynclineError('order.bad_exception_hold', `order ${orderId} has an exception hold that returns to ${hold.resumeStatus}`, {
      retry: 'permanent',
      details: { orderId, resumeStatus: hold.resumeStatus },
    });
  }
  return hold.resumeStatus;
}
