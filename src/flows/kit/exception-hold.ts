import type { Queryable } from '../../store/database.ts';
import { exceptionHold, flowException, isExceptionHold, isHoldOf, keptStatusException, resumeStatus, type FlowException } from '../../domain/orders/order-exception.ts';
import type { OrderStatus } from '../../model/order.ts';
import type { DeadLetterNotice } from '../../runtime/runtime.ts';
import { appendEvents } from '../../runtime/outbox/outbox.ts';
import { readSteps } from '../../store/flows/flow-steps.ts';
import { readOrderFlow, updateOrderFlow } from '../../store/orders/order-lifecycle-queries.ts';
import { appendTimeline, lockOrderStatus, readOrderStatus, transitionOrder } from '../../store/orders/order-status.ts';
import type { FlowStep } from './flow-runner.ts';
import { ORDER_EVENT_TYPES, orderEvent } from '../order-events.ts';

/**
 * The exception state (src/domain/orders/order-exception.ts) as the flows drive it: a flow
 * job that becomes a dead letter records why, in the transaction that dead-letters it, and
 * replaying the dead letter (or an operator's hold release) takes the exception away.
 *   - order-placed (before release) stops the order: on_hold, kind exception, `order.on_hold`;
 *   - shipment and invoice (after release) keep the status: the exception is attached to the
 *     order (`statusKept`), announced as `order.exception`;
 *   - a return's exception is kept on the return itself (the return flow calls `failureOf`).
 */

/** A flow as the dead-letter hook sees it: its name, its business key and its steps. */
export interface FailedFlow {
  name: string;
  /** (default: the order id) */
  key?: string;
  steps: readonly Pick<FlowStep<unknown>, 'id' | 'system'>[];
}

/** What failed, from the dead letter and the flow's step records: the failing step is the first one not done. */
export async function failureOf(tx: Queryable, orderId: string, notice: DeadLetterNotice, flow: FailedFlow): Promise<FlowException> {
  const key = flow.key ?? orderId;
  const done = new Set((await readSteps(tx, flow.name, key)).filter((r) => r.status === 'done').map((r) => r.step));
  const step = flow.steps.find((s) => !done.has(s.id));
  return flowException({
    flow: flow.name,
    ...(flow.key ? { key: flow.key } : {}),
    step: step?.id ?? null,
    system: step?.system ?? 'syncline',
    code: notice.errorCode,
    retry: notice.errorClass,
    message: notice.message,
    deadLetterId: notice.deadLetterId,
  });
}

/** Writes an exception on the order's timeline (`order.exception`, pending, by the failing system). */
export async function timelineException(tx: Queryable, orderId: string, notice: DeadLetterNotice, detail: { system: string } & Record<string, unknown>): Promise<void> {
  await appendTimeline(tx, orderId, [
    { system: detail.system, action: 'order.exception', outcome: 'pending', attempt: notice.job.attempt, durationMs: null, correlationId: notice.job.correlationId, detail },
  ]);
}

/**
 * Dead-letter hook of a flow job about one order. Before release the order goes on hold
 * (`order.on_hold`, reason `exception`); after release (`keepStatus`) it keeps its status
 * and the exception is attached to it (`order.exception`). Both are on its timeline.
 */
export async function holdOnDeadLetter(tx: Queryable, orderId: string | undefined, notice: DeadLetterNotice, flow: FailedFlow & { keepStatus?: boolean }): Promise<void> {
  if (!orderId || !(await readOrderStatus(tx, orderId))) return;
  const status = await lockOrderStatus(tx, orderId);
  const failure = await failureOf(tx, orderId, notice, flow);
  const { since, ...failed } = failure;
  if (flow.keepStatus) {
    const current = (await readOrderFlow(tx, orderId))?.hold_reason;
    // One exception is shown on the order at a time; a later one is announced and on the timeline.
    const free = current == null || (isExceptionHold(current) && isHoldOf(current, orderId, flow.name, flow.key ?? orderId));
    const hold = free ? keptStatusException(status, failed, new Date(since)) : undefined;
    if (hold) await updateOrderFlow(tx, orderId, { hold_reason: hold });
    if (!hold && !KEPT_OR_FINISHED.has(status)) return;
    const exception = { ...failure, status, shownOnOrder: hold !== undefined };
    await appendEvents(tx, [orderEvent(ORDER_EVENT_TYPES.exception, orderId, notice.job.correlationId, { exception })]);
    await timelineException(tx, orderId, notice, exception);
    return;
  }
  const hold = exceptionHold(status, failed, new Date(since));
  // Cancelled or released meanwhile: the dead letter alone tells the story.
  if (!hold) return;
  await transitionOrder(tx, orderId, 'on_hold', [status]);
  await updateOrderFlow(tx, orderId, { hold_reason: hold });
  const { kind: _kind, ...exception } = hold;
  await appendEvents(tx, [orderEvent(ORDER_EVENT_TYPES.onHold, orderId, notice.job.correlationId, { reason: 'exception', exception })]);
  await timelineException(tx, orderId, notice, exception);
}

// A post-release flow failing on an order no hold can be attached to (on another exception, completed) is still announced.
const KEPT_OR_FINISHED: ReadonlySet<OrderStatus> = new Set(['released', 'partially_shipped', 'shipped', 'completed']);

/**
 * Takes an order's exception away as its flow resumes. A stopped order returns to the
 * status it was in; an order that kept its status only loses the hold. With `of`, only an
 * exception of that flow run (name and key) is taken. Returns the order's status after, or
 * undefined when there was no such exception (a validation or fraud hold waits for an operator).
 */
export async function resumeFromException(
  tx: Queryable,
  orderId: string,
  by: { system: string; action: string; correlationId: string; attempt: number; detail?: Record<string, unknown> },
  of?: { flow: string; key: string },
): Promise<OrderStatus | undefined> {
  const status = await lockOrderStatus(tx, orderId);
  const hold = (await readOrderFlow(tx, orderId))?.hold_reason;
  if (!isExceptionHold(hold) || (of && !isHoldOf(hold, orderId, of.flow, of.key))) return undefined;
  let to = status;
  if (!hold.statusKept) {
    if (status !== 'on_hold') return undefined;
    to = resumeStatus(orderId, hold);
    await transitionOrder(tx, orderId, to, ['on_hold']);
  }
  await updateOrderFlow(tx, orderId, { hold_reason: null });
  await appendTimeline(tx, orderId, [
    {
      system: by.system,
      action: by.action,
      outcome: 'succeeded',
      attempt: by.attempt,
      durationMs: null,
      correlationId: by.correlationId,
      detail: { resumedTo: to, flow: hold.flow, step: hold.step, system: hold.system, code: hold.code, deadLetterId: hold.deadLetterId, ...by.detail },
    },
  ]);
  return to;
}
