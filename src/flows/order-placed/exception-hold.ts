import type { Queryable } from '../../store/database.ts';
import { exceptionHold, isExceptionHold, resumeStatus } from '../../domain/orders/order-exception.ts';
import type { OrderStatus } from '../../model/order.ts';
import type { DeadLetterNotice } from '../../runtime/runtime.ts';
import { appendEvents } from '../../runtime/outbox/outbox.ts';
import { readSteps } from '../../store/flows/flow-steps.ts';
import { readOrderFlow, updateOrderFlow } from '../../store/orders/order-lifecycle-queries.ts';
import { appendTimeline, lockOrderStatus, readOrderStatus, transitionOrder } from '../../store/orders/order-status.ts';
import type { FlowStep } from '../kit/flow-runner.ts';
import { ORDER_EVENT_TYPES, orderEvent } from '../order-events.ts';

/**
 * The exception state of an order (src/domain/orders/order-exception.ts) as the flows
 * drive it: a flow job that becomes a dead letter puts its order on hold with kind
 * `exception`, in the transaction that dead-letters it; replaying the dead letter (or
 * an operator's hold release) returns the order to where it stopped.
 */

/**
 * Dead-letter hook of a flow job about one order: the order goes on hold with the failing
 * system, step, error and dead letter, announced as `order.on_hold` (reason `exception`) and
 * on its timeline. The failing step is the first one the flow has not done.
 */
export async function holdOnDeadLetter(
  tx: Queryable,
  orderId: string | undefined,
  notice: DeadLetterNotice,
  flow: { name: string; steps: readonly Pick<FlowStep<unknown>, 'id' | 'system'>[] },
): Promise<void> {
  if (!orderId || !(await readOrderStatus(tx, orderId))) return;
  const status = await lockOrderStatus(tx, orderId);
  const done = new Set((await readSteps(tx, flow.name, orderId)).filter((r) => r.status === 'done').map((r) => r.step));
  const step = flow.steps.find((s) => !done.has(s.id));
  const hold = exceptionHold(status, {
    flow: flow.name,
    step: step?.id ?? null,
    system: step?.system ?? 'syncline',
    code: notice.errorCode,
    retry: notice.errorClass,
    message: notice.message,
    deadLetterId: notice.deadLetterId,
  });
  // Cancelled or released meanwhile: the dead letter alone tells the story.
  if (!hold) return;
  await transitionOrder(tx, orderId, 'on_hold', [status]);
  await updateOrderFlow(tx, orderId, { hold_reason: hold });
  const { kind: _kind, ...exception } = hold;
  await appendEvents(tx, [orderEvent(ORDER_EVENT_TYPES.onHold, orderId, notice.job.correlationId, { reason: 'exception', exception })]);
  await appendTimeline(tx, orderId, [
    { system: hold.system, action: 'order.exception', outcome: 'pending', attempt: notice.job.attempt, durationMs: null, correlationId: notice.job.correlationId, detail: exception },
  ]);
}

/**
 * Takes an order off its exception hold, back to the status it was in, with a timeline
 * entry. Returns the status it returned to, or undefined when it is not on an exception
 * hold (a validation or fraud hold waits for an operator's release).
 */
export async function resumeFromException(
  tx: Queryable,
  orderId: string,
  by: { system: string; action: string; correlationId: string; attempt: number; detail?: Record<string, unknown> },
): Promise<OrderStatus | undefined> {
  if ((await lockOrderStatus(tx, orderId)) !== 'on_hold') return undefined;
  const hold = (await readOrderFlow(tx, orderId))?.hold_reason;
  if (!isExceptionHold(hold)) return undefined;
  const to = resumeStatus(orderId, hold);
  await transitionOrder(tx, orderId, to, ['on_hold']);
  await updateOrderFlow(tx, orderId, { hold_reason: null });
  await appendTimeline(tx, orderId, [
    {
      system: by.system,
      action: by.action,
      outcome: 'succeeded',
      attempt: by.attempt,
      durationMs: null,
      correlationId: by.correlationId,
      detail: { resumedTo: to, step: hold.step, system: hold.system, code: hold.code, deadLetterId: hold.deadLetterId, ...by.detail },
    },
  ]);
  return to;
}
