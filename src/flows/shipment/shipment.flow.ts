import { SynclineError } from '../../domain/errors.ts';
import type { ShipmentConfirmation } from '../../model/shipment.ts';
import { newId } from '../../model/ids.ts';
import type { DeadLetterNotice, HandlerContext } from '../../runtime/runtime.ts';
import type { Queryable } from '../../store/database.ts';
import { enqueue } from '../../runtime/queue.ts';
import { appendEvents } from '../../runtime/outbox/outbox.ts';
import {
  addLineQuantities,
  insertShipment,
  readFulfilments,
  readLineStates,
  readOrderFlow,
  updateFulfilment,
  updateOrderFlow,
} from '../../store/orders/order-lifecycle-queries.ts';
import { findOrderById } from '../../store/orders/order-queries.ts';
import { readOrderStatus } from '../../store/orders/order-status.ts';
import { runFlow, stepRun, type FlowStep, type StepOutcome } from '../kit/flow-runner.ts';
import { holdOnDeadLetter, resumeFromException } from '../kit/exception-hold.ts';
import { isExceptionHold, isHoldOf } from '../../domain/orders/order-exception.ts';
import { erpOfOrder } from '../erp-routing/erp-router.ts';
import { advance, FLOW_IDEMPOTENCY_SCOPE, FLOW_JOBS, orderingKey, type FlowDeps } from '../flow-deps.ts';
import { ORDER_EVENT_TYPES, orderEvent } from '../order-events.ts';

/**
 * The shipment flow: a location confirmed it shipped lines of an order. Its business
 * key is the external shipment id (`wms:shp_…`), so a webhook delivered twice ships once.
 *   inventory.consume → erp.shipment → shipment.record (status, order.shipped / order.partially_shipped)
 * When every line is shipped or cancelled, the invoice flow follows.
 */

export const SHIPMENT_FLOW = 'shipment';
export const INVOICE_FLOW = 'invoice';

export const shipmentKey = (c: ShipmentConfirmation) => `${c.source.system}:${c.source.shipmentId}`;

/** The job that records one shipment confirmation. */
export const shipmentJob = (confirmation: ShipmentConfirmation, correlationId: string) => ({
  type: FLOW_JOBS.shipment,
  payload: confirmation,
  lane: 'normal' as const,
  orderingKey: orderingKey(confirmation.orderId),
  jobKey: `shipment:${shipmentKey(confirmation)}`,
  correlationId,
});

/** The job that records the ERP's invoice and completes the order. */
export const invoiceJob = (orderId: string, correlationId: string) => ({
  type: FLOW_JOBS.invoice,
  payload: { orderId },
  lane: 'normal' as const,
  orderingKey: orderingKey(orderId),
  jobKey: `invoice:${orderId}`,
  correlationId,
});

interface ShipmentState {
  confirmation: ShipmentConfirmation;
  lines: { lineNumber: number; sku: string; quantity: number }[];
  results: Record<string, Record<string, unknown>>;
}

function shipmentSteps(deps: FlowDeps, key: string): FlowStep<ShipmentState>[] {
  return [
    {
      id: 'inventory.consume',
      system: 'inventory',
      async forward({ confirmation, lines }, run): Promise<StepOutcome> {
        const fulfilment = (await readFulfilments(deps.db, confirmation.orderId)).find((f) => f.locationCode === confirmation.locationId);
        if (!fulfilment) {
          throw new SynclineError('shipment.unknown_location', `order ${confirmation.orderId} has no fulfilment at ${confirmation.locationId}`, {
            details: { remediation: 'Check the WMS location mapping for this order, then replay.' },
          });
        }
        const outcome = await deps.inventory.consume(
          fulfilment.reservationId,
          { lines: lines.map((l) => ({ sku: l.sku, quantity: l.quantity, location: confirmation.locationId })), reference: key },
          { correlationId: run.correlationId, idempotency: { scope: FLOW_IDEMPOTENCY_SCOPE, key: `consume:${key}`, fingerprint: key } },
        );
        if ('kind' in outcome && outcome.kind === 'done') {
          const r = outcome.result;
          if (r.kind === 'consumed') return { kind: 'done', result: { reservationId: fulfilment.reservationId }, detail: { reservationId: fulfilment.reservationId, sales: r.entries.length } };
          // Shipped although nothing was held (say, after a cancel the warehouse could not stop): recorded, not consumed.
          return { kind: 'done', result: { reservationId: fulfilment.reservationId }, detail: { reservationId: fulfilment.reservationId, notConsumed: r.kind } };
        }
        throw new SynclineError('shipment.consume_failed', `consuming ${fulfilment.reservationId} failed (${'kind' in outcome ? outcome.kind : 'unknown'})`, { retry: 'transient' });
      },
    },
    {
      id: 'erp.shipment',
      system: 'erp',
      async forward({ confirmation, lines }, run): Promise<StepOutcome> {
        const erp = await erpOfOrder(deps.erps, deps.db, confirmation.orderId);
        const result = await erp.client.recordShipment(confirmation.orderId, { shipmentKey: key, lines: lines.map((l) => ({ sku: l.sku, quantity: l.quantity })) }, run.via(erp.target));
        return { kind: 'done', result: { erpShipmentId: result.erpShipmentId }, detail: { erpShipmentId: result.erpShipmentId, recorded: result.recorded, shipmentState: result.sale.shipmentState } };
      },
    },
    {
      id: 'shipment.record',
      system: 'syncline',
      async forward({ confirmation, lines }, run): Promise<StepOutcome> {
        const id = newId('shipment');
        return {
          kind: 'done',
          result: { shipmentId: id },
          detail: { shipmentId: id, location: confirmation.locationId, carrier: confirmation.carrier ?? null, trackingNumbers: confirmation.trackingNumbers, lines },
          apply: async (tx) => {
            const orderId = confirmation.orderId;
            const inserted = await insertShipment(tx, orderId, {
              id,
              sourceKey: key,
              locationCode: confirmation.locationId,
              carrier: confirmation.carrier ?? null,
              trackingNumbers: confirmation.trackingNumbers,
              lines,
              shippedAt: confirmation.shippedAt,
            });
            if (!inserted) return;
            await addLineQuantities(tx, orderId, 'shipped', lines);
            await updateFulfilment(tx, orderId, confirmation.locationId, { status: confirmation.fulfilmentComplete ? 'shipped' : 'partially_shipped' });
            const states = await readLineStates(tx, orderId);
            const everything = states.every((l) => l.shipped + l.cancelled >= l.quantity);
            const to = everything ? 'shipped' : 'partially_shipped';
            await advance(tx, orderId, to, ['released', 'partially_shipped']);
            await appendEvents(tx, [
              orderEvent(everything ? ORDER_EVENT_TYPES.shipped : ORDER_EVENT_TYPES.partiallyShipped, orderId, run.correlationId, {
                shipmentId: id,
                location: confirmation.locationId,
                carrier: confirmation.carrier ?? null,
                trackingNumbers: confirmation.trackingNumbers,
                lines,
              }),
            ]);
            if (everything) await enqueue(tx, invoiceJob(orderId, run.correlationId));
          },
        };
      },
    },
  ];
}

/** Records one shipment confirmation (a WMS webhook, a store's confirmation). */
export async function recordShipment(deps: FlowDeps, confirmation: ShipmentConfirmation, context: HandlerContext): Promise<void> {
  const order = await findOrderById(deps.db, confirmation.orderId);
  if (!order) throw new SynclineError('shipment.unknown_order', `shipment ${shipmentKey(confirmation)} names unknown order ${confirmation.orderId}`);
  // Lines are correlated by line number when the WMS echoes it, else by SKU.
  const lines = confirmation.lines.map((l) => {
    const line = (l.lineNumber !== undefined ? order.lines.find((o) => o.lineNumber === l.lineNumber) : undefined) ?? order.lines.find((o) => o.sku === l.sku);
    if (!line) throw new SynclineError('shipment.unknown_line', `order ${order.id} has no line for ${l.sku}`);
    return { lineNumber: line.lineNumber, sku: l.sku, quantity: l.quantity };
  });
  const key = shipmentKey(confirmation);
  await resumeKept(deps, order.id, { flow: SHIPMENT_FLOW, key }, context);
  await runFlow(deps.db, { flow: SHIPMENT_FLOW, key }, shipmentSteps(deps, key), { confirmation, lines, results: {} }, stepRun(order.id, context));
}

/** A replayed post-release flow takes its exception off the order (which kept its status) before it runs again. */
async function resumeKept(deps: FlowDeps, orderId: string, of: { flow: string; key: string }, context: HandlerContext): Promise<void> {
  // Most runs find no exception: only then is the order locked.
  const hold = (await readOrderFlow(deps.db, orderId))?.hold_reason;
  if (!isExceptionHold(hold) || !isHoldOf(hold, orderId, of.flow, of.key)) return;
  await deps.db.transaction((tx) =>
    resumeFromException(tx, orderId, { system: 'syncline', action: 'order.exception.resumed', correlationId: context.correlationId, attempt: context.attempt, detail: { by: 'replay' } }, of),
  );
}

/** Dead-letter hook of the shipment job: the order keeps its status and shows the exception. */
export async function shipmentDeadLettered(deps: FlowDeps, notice: DeadLetterNotice<ShipmentConfirmation>, tx: Queryable): Promise<void> {
  const confirmation = notice.job.payload;
  if (!confirmation?.orderId || !confirmation.source) return;
  const key = shipmentKey(confirmation);
  await holdOnDeadLetter(tx, confirmation.orderId, notice, { name: SHIPMENT_FLOW, key, steps: shipmentSteps(deps, key), keepStatus: true });
}

/** Dead-letter hook of the invoice job: the shipped order stays shipped and shows the exception. */
export async function invoiceDeadLettered(notice: DeadLetterNotice<{ orderId: string }>, tx: Queryable): Promise<void> {
  await holdOnDeadLetter(tx, notice.job.payload?.orderId, notice, { name: INVOICE_FLOW, steps: [INVOICE_STEP], keepStatus: true });
}

const INVOICE_STEP = { id: 'erp.invoice', system: 'erp' } as const;

/** Records the ERP's invoice on the order and completes it when every line is shipped or cancelled. */
export async function invoiceOrder(deps: FlowDeps, payload: { orderId: string }, context: HandlerContext): Promise<void> {
  await resumeKept(deps, payload.orderId, { flow: INVOICE_FLOW, key: payload.orderId }, context);
  const status = await readOrderStatus(deps.db, payload.orderId);
  if (status !== 'shipped' && status !== 'partially_shipped') return;
  const step: FlowStep<{ results: Record<string, Record<string, unknown>> }> = {
    ...INVOICE_STEP,
    async forward(_state, run): Promise<StepOutcome> {
      const erp = await erpOfOrder(deps.erps, deps.db, payload.orderId);
      const invoices = (await erp.client.postInvoices(payload.orderId, run.via(erp.target))).filter(
        (i) => i.kind === 'invoice' && i.state !== 'cancelled',
      );
      if (invoices.length === 0) {
        throw new SynclineError('erp.no_invoice_yet', `the ERP has no invoice for ${payload.orderId} yet`, { retry: 'transient' });
      }
      const recorded = invoices.map((i) => ({ erpId: i.erpId, number: i.number, state: i.state, totalAmount: i.totalAmount, currency: i.currency, invoiceDate: i.invoiceDate }));
      return {
        kind: 'done',
        result: { invoices: recorded.map((i) => i.number) },
        detail: { invoices: recorded },
        apply: async (tx) => {
          const states = await readLineStates(tx, payload.orderId);
          if (!states.every((l) => l.shipped + l.cancelled >= l.quantity)) return;
          await updateOrderFlow(tx, payload.orderId, { invoices: recorded, completed_at: new Date().toISOString() });
          if (await advance(tx, payload.orderId, 'completed', ['shipped', 'partially_shipped'])) {
            await appendEvents(tx, [
              orderEvent(ORDER_EVENT_TYPES.invoiced, payload.orderId, run.correlationId, { invoices: recorded }),
              orderEvent(ORDER_EVENT_TYPES.completed, payload.orderId, run.correlationId, {}),
            ]);
          }
        },
      };
    },
  };
  await runFlow(deps.db, { flow: INVOICE_FLOW, key: payload.orderId }, [step], { results: {} }, stepRun(payload.orderId, context));
}
