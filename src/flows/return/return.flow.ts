import { SynclineError } from '../../domain/errors.ts';
import { CustomerService } from '../../domain/customers/customer.service.ts';
import type { DeadLetterNotice, HandlerContext } from '../../runtime/runtime.ts';
import type { Queryable } from '../../store/database.ts';
import { appendEvents } from '../../runtime/outbox/outbox.ts';
import type { OrderReturnedData } from '../../model/events.ts';
import {
  addLineQuantities,
  appendCustomerTimeline,
  completeReturn,
  readOrderFlow,
  readReturn,
  setReturnException,
  type OrderReturn,
} from '../../store/orders/order-lifecycle-queries.ts';
import { findOrderById } from '../../store/orders/order-queries.ts';
import { appendTimeline } from '../../store/orders/order-status.ts';
import { runFlow, stepRun, type FlowStep, type StepOutcome } from '../kit/flow-runner.ts';
import { failureOf, timelineException } from '../kit/exception-hold.ts';
import { erpOfOrder } from '../erp-routing/erp-router.ts';
import { FLOW_IDEMPOTENCY_SCOPE, FLOW_JOBS, orderingKey, TARGETS, type FlowDeps } from '../flow-deps.ts';
import { ORDER_EVENT_TYPES, orderEvent } from '../order-events.ts';

/**
 * The return flow: refund through the payment system (skipped when the refund was taken in
 * the sales channel) → credit note in the ERP (goods
 * received back when resellable) → restock resellable units at the location that
 * received them → record on the order and the customer's timeline. Its key is the
 * return id; every external call is idempotent by it.
 */

export const RETURN_FLOW = 'return';

export const returnJob = (orderId: string, returnId: string, correlationId: string) => ({
  type: FLOW_JOBS.return,
  payload: { returnId },
  lane: 'normal' as const,
  orderingKey: orderingKey(orderId),
  jobKey: `return:${returnId}`,
  correlationId,
});

interface ReturnState {
  ret: OrderReturn;
  email: string;
  paymentId: string | null;
  results: Record<string, Record<string, unknown>>;
}

function returnSteps(deps: FlowDeps): FlowStep<ReturnState>[] {
  return [
    {
      id: 'payment.refund',
      system: 'payment',
      async forward({ ret, paymentId }, run): Promise<StepOutcome> {
        // A refund taken in the sales channel moved the money there: refunding here would pay the customer twice.
        if (ret.channelRefund?.source === 'channel') return { kind: 'done', result: { refundId: null }, detail: { skipped: 'refunded in the channel', channelRefund: ret.channelRefund } };
        if (!paymentId) return { kind: 'done', result: { refundId: null }, detail: { skipped: 'the order has no payment to refund' } };
        const refund = await deps.connectors.payment.refund(paymentId, { amount: ret.refundAmount, refundKey: ret.id, reason: 'requested_by_customer' }, run.via(TARGETS.payment));
        return { kind: 'done', result: { refundId: refund.id }, detail: { refundId: refund.id, amount: refund.amount, currency: refund.currency } };
      },
    },
    {
      id: 'erp.credit',
      system: 'erp',
      async forward({ ret }, run): Promise<StepOutcome> {
        const restock = ret.lines.some((l) => l.condition === 'resellable');
        // The credit note goes to the ERP that holds the order's sale.
        const erp = await erpOfOrder(deps.erps, deps.db, ret.orderId);
        const result = await erp.client.postReturn(
          { returnId: ret.id, orderId: ret.orderId, lines: ret.lines.map((l) => ({ sku: l.sku, quantity: l.quantity, unitPrice: l.unitPrice })), restock },
          run.via(erp.target),
        );
        const creditNotes = result.creditNotes.filter((c) => c.kind === 'credit_note').map((c) => ({ erpId: c.erpId, number: c.number, state: c.state, totalAmount: c.totalAmount }));
        // Whoever brings the goods back (a store, another e-mail), the credit is the order's customer's: shown with the account credited.
        const customer = await new CustomerService(deps.db).customerOfOrder(ret.orderId);
        const credited = { erp: erp.id, account: result.account, customerId: customer?.customerId ?? null };
        return { kind: 'done', result: { erpId: result.sale.erpId, creditNotes, ...credited }, detail: { erpSale: result.sale.number, creditNotes, ...credited } };
      },
    },
    {
      id: 'inventory.restock',
      system: 'inventory',
      async forward({ ret }, run): Promise<StepOutcome> {
        const restocked: { sku: string; quantity: number; location: string }[] = [];
        for (const line of ret.lines.filter((l) => l.condition === 'resellable')) {
          const outcome = await deps.inventory.restock(
            { sku: line.sku, location: ret.locationCode, quantity: line.quantity, reference: ret.id, reason: `return of ${ret.orderId}` },
            { correlationId: run.correlationId, idempotency: { scope: FLOW_IDEMPOTENCY_SCOPE, key: `restock:${ret.id}:${line.lineNumber}`, fingerprint: ret.id } },
          );
          if (!('kind' in outcome) || outcome.kind !== 'done' || outcome.result.kind !== 'recorded') {
            throw new SynclineError('return.restock_failed', `restocking ${line.sku} at ${ret.locationCode} failed`, { details: { outcome } });
          }
          restocked.push({ sku: line.sku, quantity: line.quantity, location: ret.locationCode });
        }
        return { kind: 'done', result: { restocked }, detail: { restocked, notResellable: ret.lines.filter((l) => l.condition !== 'resellable').map((l) => l.sku) } };
      },
    },
    {
      id: 'return.complete',
      system: 'syncline',
      async forward({ ret, email, results }, run): Promise<StepOutcome> {
        const refundId = (results['payment.refund']?.refundId as string | null) ?? null;
        const creditNotes = results['erp.credit']?.creditNotes as NonNullable<OrderReturnedData['creditNote']>[] | undefined;
        const summary = { returnId: ret.id, refundId, refundAmount: ret.refundAmount, creditNote: creditNotes?.[0] ?? null, location: ret.locationCode, lines: ret.lines, channelRefund: ret.channelRefund };
        return {
          kind: 'done',
          detail: summary,
          apply: async (tx) => {
            await completeReturn(tx, ret.id, { refundId, creditNote: creditNotes?.[0] ?? null });
            await addLineQuantities(tx, ret.orderId, 'returned', ret.lines);
            await appendCustomerTimeline(tx, { email, action: 'order.returned', orderId: ret.orderId, detail: summary });
            await appendEvents(tx, [orderEvent(ORDER_EVENT_TYPES.returned, ret.orderId, run.correlationId, summary)]);
          },
        };
      },
    },
  ];
}

/** Processes one accepted return. */
export async function processReturn(deps: FlowDeps, payload: { returnId: string }, context: HandlerContext): Promise<void> {
  const ret = await readReturn(deps.db, payload.returnId);
  if (!ret) throw new SynclineError('return.not_found', `no return ${payload.returnId}`);
  if (ret.status === 'completed') return;
  const order = await findOrderById(deps.db, ret.orderId);
  const flow = await readOrderFlow(deps.db, ret.orderId);
  if (!order) throw new SynclineError('order.not_found', `no order ${ret.orderId}`);
  if (ret.exception) {
    // A replayed dead letter: the return leaves its exception and the flow goes on where it stopped.
    await deps.db.transaction(async (tx) => {
      await setReturnException(tx, ret.id, null);
      await appendTimeline(tx, ret.orderId, [
        {
          system: 'syncline',
          action: 'return.exception.resumed',
          outcome: 'succeeded',
          attempt: context.attempt,
          durationMs: null,
          correlationId: context.correlationId,
          detail: { returnId: ret.id, step: ret.exception!.step, code: ret.exception!.code, deadLetterId: ret.exception!.deadLetterId, by: 'replay' },
        },
      ]);
    });
  }
  await runFlow(
    deps.db,
    { flow: RETURN_FLOW, key: ret.id },
    returnSteps(deps),
    { ret, email: order.customer.email, paymentId: flow?.payment_id ?? null, results: {} },
    stepRun(ret.orderId, context),
  );
}

/**
 * Dead-letter hook of the return job: the return (not the order, which keeps its status)
 * shows the failing system, step, error and dead letter; `order.exception` announces it
 * and the order's timeline has it. A replay of the dead letter clears it and goes on.
 */
export async function returnDeadLettered(deps: FlowDeps, notice: DeadLetterNotice<{ returnId: string }>, tx: Queryable): Promise<void> {
  const ret = notice.job.payload?.returnId ? await readReturn(tx, notice.job.payload.returnId) : undefined;
  if (!ret || ret.status === 'completed') return;
  const exception = await failureOf(tx, ret.orderId, notice, { name: RETURN_FLOW, key: ret.id, steps: returnSteps(deps) });
  await setReturnException(tx, ret.id, { ...exception });
  const detail = { ...exception, returnId: ret.id };
  await appendEvents(tx, [orderEvent(ORDER_EVENT_TYPES.exception, ret.orderId, notice.job.correlationId, { returnId: ret.id, exception })]);
  await timelineException(tx, ret.orderId, notice, detail);
}
