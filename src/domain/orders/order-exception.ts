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

/** What the runtime and the flow know about the failure. */
export interface FlowFailure {
  flow: string;
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

/**
 * The exception hold for an order in `status` whose flow failed, or undefined when the
 * order is not in a status a failing flow stops (cancelled meanwhile, already released).
 */
export function exceptionHold(status: OrderStatus, failure: FlowFailure, now = new Date()): OrderException | undefined {
  if (!EXCEPTION_STATUSES.has(status) || !canTransition(status, 'on_hold')) return undefined;
  return {
    kind: 'exception',
    flow: failure.flow,
    step: failure.step,
    system: failure.system,
    code: failure.code,
    retry: failure.retry,
    message: safeFailureMessage(failure.message),
    deadLetterId: failure.deadLetterId,
    resumeStatus: status,
    since: now.toISOString(),
  };
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
