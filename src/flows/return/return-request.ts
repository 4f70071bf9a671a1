import type { Database } from '../../store/database.ts';
import type { InventoryService } from '../../domain/inventory/inventory.service.ts';
import { fromScaled, minorUnits, toScaled } from '../../model/money.ts';
import { newId } from '../../model/ids.ts';
import type { ReturnRequest } from '../../model/order-actions.ts';
import { enqueue } from '../../runtime/queue.ts';
import { runIdempotent, type IdempotencyClaim, type IdempotentOutcome } from '../../store/idempotency/idempotency-records.ts';
import {
  insertReturn,
  readLineStates,
  readReturn,
  readShipments,
  returnedQuantities,
  type OrderReturn,
  type ReturnLine,
} from '../../store/orders/order-lifecycle-queries.ts';
import { findOrderById } from '../../store/orders/order-queries.ts';
import { appendTimeline, lockOrderStatus } from '../../store/orders/order-status.ts';
import { returnJob } from './return.flow.ts';

/** Accepting a return: eligibility is checked at once; refund, credit and restock follow in the return flow. */

export type ReturnRequestResult =
  | { kind: 'accepted'; return: OrderReturn }
  | { kind: 'order-not-found' }
  /** What makes the return ineligible, with JSON pointers into the request. */
  | { kind: 'not-eligible'; problems: { pointer: string; detail: string }[] };

const DAY_MS = 86_400_000;

/** Checks a return against what shipped (less what was returned before) and the return window, then records it. */
export async function requestReturn(
  db: Database,
  inventory: InventoryService,
  returnWindowDays: number,
  request: ReturnRequest,
  context: { correlationId: string; idempotency?: IdempotencyClaim | undefined; now?: Date },
): Promise<IdempotentOutcome<ReturnRequestResult>> {
  const order = await findOrderById(db, request.orderId);
  if (!order) return { kind: 'done', result: { kind: 'order-not-found' }, replayed: false };
  const location = await inventory.findLocation(request.location);
  const now = context.now ?? new Date();
  return runIdempotent(db, context.idempotency, async (tx): Promise<ReturnRequestResult> => {
    await lockOrderStatus(tx, order.id);
    const problems: { pointer: string; detail: string }[] = [];
    if (!location) problems.push({ pointer: '/location', detail: `no location with id or code "${request.location}"` });
    const states = new Map((await readLineStates(tx, order.id)).map((l) => [l.lineNumber, l]));
    const onReturns = await returnedQuantities(tx, order.id);
    const shipments = await readShipments(tx, order.id);
    const wanted = new Map<number, number>();
    const lines: ReturnLine[] = [];
    request.lines.forEach((line, i) => {
      const state = states.get(line.lineNumber);
      if (!state) {
        problems.push({ pointer: `/lines/${i}/lineNumber`, detail: `order ${order.id} has no line ${line.lineNumber}` });
        return;
      }
      wanted.set(line.lineNumber, (wanted.get(line.lineNumber) ?? 0) + line.quantity);
      const left = state.shipped - (onReturns.get(line.lineNumber) ?? 0);
      if (wanted.get(line.lineNumber)! > left) {
        problems.push({ pointer: `/lines/${i}/quantity`, detail: `only ${Math.max(0, left)} unit(s) of line ${line.lineNumber} shipped and are not returned yet` });
        return;
      }
      const lastShipped = shipments.filter((s) => s.lines.some((l) => l.lineNumber === line.lineNumber)).map((s) => Date.parse(s.shippedAt)).sort((a, b) => b - a)[0];
      if (lastShipped !== undefined && now.getTime() - lastShipped > returnWindowDays * DAY_MS) {
        problems.push({ pointer: `/lines/${i}`, detail: `line ${line.lineNumber} shipped ${new Date(lastShipped).toISOString()}, outside the ${returnWindowDays}-day return window` });
        return;
      }
      lines.push({ lineNumber: line.lineNumber, sku: state.sku, quantity: line.quantity, condition: line.condition, unitPrice: state.unitPrice });
    });
    if (problems.length > 0) return { kind: 'not-eligible', problems };
    const scale = minorUnits(order.currency);
    const refund = lines.reduce((n, l) => n + toScaled(l.unitPrice, scale) * BigInt(l.quantity), 0n);
    const id = newId('return');
    await insertReturn(tx, {
      id,
      orderId: order.id,
      lines,
      locationCode: location!.code,
      reason: request.reason ?? null,
      refundAmount: fromScaled(refund, scale),
      correlationId: context.correlationId,
    });
    await enqueue(tx, returnJob(order.id, id, context.correlationId));
    await appendTimeline(tx, order.id, [
      { system: 'syncline', action: 'return.requested', outcome: 'pending', attempt: 1, durationMs: null, correlationId: context.correlationId, detail: { returnId: id, location: location!.code, lines } },
    ]);
    return { kind: 'accepted', return: (await readReturn(tx, id))! };
  });
}
