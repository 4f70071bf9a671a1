import type { Database } from '../../store/database.ts';
import type { OrderStatus } from '../../model/order.ts';
import { newId } from '../../model/ids.ts';
import { enqueue } from '../../runtime/queue.ts';
import { runIdempotent, type IdempotencyClaim, type IdempotentOutcome } from '../../store/idempotency/idempotency-records.ts';
import { insertCancellation, openCancellation, orderExceptionDeadLetters, readCancellation, readOrderFlow, updateOrderFlow, type Cancellation } from '../../store/orders/order-lifecycle-queries.ts';
import { replayDeadLetters } from '../../store/runtime/dead-letter-queries.ts';
import { isExceptionHold } from '../../domain/orders/order-exception.ts';
import { appendTimeline, lockOrderStatus, readOrderStatus, transitionOrder } from '../../store/orders/order-status.ts';
import { cancelJob } from './cancel.flow.ts';
import { placeJob } from '../order-placed/order-placed.flow.ts';
import { resumeFromException } from '../kit/exception-hold.ts';

/** Accepting a cancel, a hold release or a retry: checked and recorded at once, carried out by the flows. */

export type CancelRequestResult =
  | { kind: 'accepted'; cancellation: Cancellation }
  | { kind: 'not-found' }
  /** Goods left: only a return can undo it. */
  | { kind: 'shipped'; status: OrderStatus }
  | { kind: 'not-cancellable'; status: OrderStatus };

/** Records a cancel request and enqueues the cancel flow; an open request is returned instead of a second one. */
export async function requestCancel(
  db: Database,
  orderId: string,
  request: { reason: string | null; requestedBy: string; correlationId: string; idempotency?: IdempotencyClaim | undefined },
): Promise<IdempotentOutcome<CancelRequestResult>> {
  if (!(await readOrderStatus(db, orderId))) return { kind: 'done', result: { kind: 'not-found' }, replayed: false };
  return runIdempotent(db, request.idempotency, async (tx): Promise<CancelRequestResult> => {
    const status = await lockOrderStatus(tx, orderId);
    if (status === 'shipped' || status === 'completed') return { kind: 'shipped', status };
    if (status === 'cancelled' || status === 'payment_failed') return { kind: 'not-cancellable', status };
    const open = await openCancellation(tx, orderId);
    if (open) return { kind: 'accepted', cancellation: (await readCancellation(tx, open))! };
    const id = newId('cancellation');
    await insertCancellation(tx, { id, orderId, requestedBy: request.requestedBy, reason: request.reason, correlationId: request.correlationId });
    await enqueue(tx, cancelJob({ orderId, cancellationId: id }, request.correlationId));
    await appendTimeline(tx, orderId, [
      { system: 'syncline', action: 'order.cancel.requested', outcome: 'pending', attempt: 1, durationMs: null, correlationId: request.correlationId, detail: { cancellationId: id, status, reason: request.reason, requestedBy: request.requestedBy } },
    ]);
    return { kind: 'accepted', cancellation: (await readCancellation(tx, id))! };
  });
}

export type HoldReleaseResult =
  | { kind: 'released' }
  | { kind: 'not-found' }
  | { kind: 'not-on-hold'; status: OrderStatus }
  /** Held for a channel's change: decided by applying or rejecting it (docs/adr/0023). */
  | { kind: 'amendment-hold'; amendmentId: string };

/** An operator lets an order on hold continue: the flow resumes and the hold is not applied again. */
export async function releaseHold(db: Database, orderId: string, request: { releasedBy: string; note: string | null; correlationId: string }): Promise<HoldReleaseResult> {
  if (!(await readOrderStatus(db, orderId))) return { kind: 'not-found' };
  return db.transaction(async (tx): Promise<HoldReleaseResult> => {
    const status = await lockOrderStatus(tx, orderId);
    const hold = (await readOrderFlow(tx, orderId))?.hold_reason;
    if (isExceptionHold(hold) && hold.statusKept) {
      // A flow after release failed (the order kept its status): releasing the hold replays that flow's dead letter.
      const replayed = await replayDeadLetters(tx, { ids: [hold.deadLetterId] }, request.releasedBy);
      if (replayed.length === 0) return { kind: 'not-on-hold', status };
      await appendTimeline(tx, orderId, [
        { system: 'operator', action: 'hold.released', outcome: 'succeeded', attempt: 1, durationMs: null, correlationId: request.correlationId, detail: { releasedBy: request.releasedBy, note: request.note, replayed: hold.deadLetterId, flow: hold.flow } },
      ]);
      return { kind: 'released' };
    }
    if (status !== 'on_hold') return { kind: 'not-on-hold', status };
    const amendment = hold as { kind?: string; amendmentId?: string } | null;
    if (amendment?.kind === 'amendment') return { kind: 'amendment-hold', amendmentId: String(amendment.amendmentId) };
    // An exception hold is not overridden: the order goes back to where its flow stopped and
    // the flow retries the failed step, as a replay of its dead letter would.
    const resumed = await resumeFromException(tx, orderId, {
      system: 'operator',
      action: 'order.exception.resumed',
      correlationId: request.correlationId,
      attempt: 1,
      detail: { by: 'hold-release', releasedBy: request.releasedBy, note: request.note },
    });
    if (resumed) {
      await enqueue(tx, placeJob(orderId, request.correlationId, `place:${orderId}:exception-released`));
      return { kind: 'released' };
    }
    await transitionOrder(tx, orderId, 'validated', ['on_hold']);
    await updateOrderFlow(tx, orderId, { hold_released_at: new Date().toISOString(), hold_released_by: request.releasedBy, hold_reason: null });
    await appendTimeline(tx, orderId, [
      { system: 'operator', action: 'hold.released', outcome: 'succeeded', attempt: 1, durationMs: null, correlationId: request.correlationId, detail: { releasedBy: request.releasedBy, note: request.note } },
    ]);
    await enqueue(tx, placeJob(orderId, request.correlationId, `place:${orderId}:hold-released`));
    return { kind: 'released' };
  });
}

export type RetryResult =
  | { kind: 'retried'; replayed: { deadLetterId: string; jobId: string }[] }
  | { kind: 'not-found' }
  /** No open dead letter behind the order (no exception, or its replay is already running). */
  | { kind: 'no-exception'; status: OrderStatus };

/**
 * An operator retries an order in the exception state: the open dead letters behind it (its
 * exception hold's, its stopped returns') are replayed, as from the dead-letter page; the flows
 * take the exception away when the replayed job runs (src/flows/kit/exception-hold.ts).
 */
export async function retryOrder(db: Database, orderId: string, actor: string): Promise<RetryResult> {
  const status = await readOrderStatus(db, orderId);
  if (!status) return { kind: 'not-found' };
  const ids = await orderExceptionDeadLetters(db, orderId);
  const replayed = ids.length === 0 ? [] : await db.transaction((tx) => replayDeadLetters(tx, { ids }, actor));
  if (replayed.length === 0) return { kind: 'no-exception', status };
  return { kind: 'retried', replayed: replayed.map((r) => ({ deadLetterId: r.id, jobId: r.job_id })) };
}
